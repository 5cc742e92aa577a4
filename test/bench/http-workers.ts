// Pool scaling: throughput of CPU-bound requests with WORKERS=1 and WORKERS=2 (otherwise the default
// config), in this run. The request is a deep chain h ← tanh(h · W) (24 products of 128×256 by
// 256×256, W shared) with a mean at the end: ~1.2 GFLOP of compute for a 0.5 MB body, so the cores,
// not the event loop, bound the throughput.
import { join } from 'node:path';
import { encodeTensor } from '../../src/engine/wire.js';
import { breathe, round, startServer, uniform, type Ctx, type Row } from './common.js';
import { load, type LoadResult } from './load.js';

const DEPTH = 24;
const ROWS = 128;
const WIDTH = 256;
const CONNECTIONS = 4;

export function chainBody(): string {
  const nodes: { id: string; op: string; inputs: string[] }[] = [];
  let h = 'x';
  for (let i = 0; i < DEPTH; i++) {
    nodes.push({ id: `z${i}`, op: 'matmul', inputs: [h, 'W'] });
    nodes.push({ id: `h${i}`, op: 'tanh', inputs: [`z${i}`] });
    h = `h${i}`;
  }
  nodes.push({ id: 'L', op: 'mean', inputs: [h] });
  const t = (shape: number[], seed: number, scale: number) => encodeTensor({ shape, data: uniform(shape[0]! * shape[1]!, seed, scale) }, 'base64');
  return JSON.stringify({
    model: { type: 'graph', inputs: ['x'], params: { W: { shape: [WIDTH, WIDTH] } }, nodes, output: 'L' },
    // ~√3/√256: the activations keep their scale through the chain (no overflow, no denormals)
    params: { W: t([WIDTH, WIDTH], 5, 0.1) },
    inputs: { x: t([ROWS, WIDTH], 6, 1) },
    options: { encoding: 'base64', diagnostics: false },
  });
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const body = chainBody();
  const results: Record<number, LoadResult> = {};
  for (const workers of [1, 2]) {
    ctx.log(`http-workers: WORKERS=${workers}`);
    const server = await startServer(join(ctx.root, 'dist/src/server.js'), { WORKERS: String(workers) }, '/readyz');
    try {
      const url = `${server.url}/v1/gradients`;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`chain request answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
      await load({ url, body, connections: CONNECTIONS, duration: 1 });
      results[workers] = await load({ url, body, connections: CONNECTIONS, duration: 5 });
    } finally {
      await server.stop();
    }
    await breathe(200);
  }
  const name = (s: string) => `tanh-matmul chain (${DEPTH} × ${ROWS}×${WIDTH}·${WIDTH}×${WIDTH}), ${CONNECTIONS} connections: ${s}`;
  const rows: Row[] = [1, 2].map((w) => ({
    scenario: 'http-workers',
    name: name(`WORKERS=${w} throughput`),
    value: round(results[w]!.rps, 1),
    unit: 'req/s',
    p50Ms: results[w]!.p50Ms,
    p99Ms: results[w]!.p99Ms,
    failures: results[w]!.failures,
  }));
  rows.push({
    scenario: 'http-workers',
    name: name('WORKERS=2 / WORKERS=1 throughput'),
    value: round(results[2]!.rps / results[1]!.rps, 2),
    unit: '×',
    target: { op: '>=', limit: 1.7, label: 'two workers vs one' },
  });
  return rows;
}
