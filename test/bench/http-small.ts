// Small requests: API.md's two-weight chain, 16 connections, gradserve (default config) against a bare
// Fastify server that parses the same body and answers the same bytes, both measured in this run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twoWeight } from '../../src/routes/shared/examples.js';
import { breathe, round, startServer, type Ctx, type Row } from './common.js';
import { load, type LoadResult } from './load.js';

const CONNECTIONS = 16;
const WARMUP_S = 1;
const DURATION_S = 4;

export async function run(ctx: Ctx): Promise<Row[]> {
  const body = JSON.stringify(twoWeight);
  const measure = async (url: string): Promise<LoadResult> => {
    await load({ url, body, connections: CONNECTIONS, duration: WARMUP_S });
    return load({ url, body, connections: CONNECTIONS, duration: DURATION_S });
  };
  const dir = mkdtempSync(join(tmpdir(), 'gradserve-bench-'));
  try {
    ctx.log('http-small: gradserve (default config)');
    const server = await startServer(join(ctx.root, 'dist/src/server.js'), {}, '/readyz');
    let ours: LoadResult;
    let answer: string;
    try {
      const url = `${server.url}/v1/gradients`;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      answer = await res.text();
      if (res.status !== 200) throw new Error(`two-weight request answered ${res.status}: ${answer}`);
      ours = await measure(url);
    } finally {
      await server.stop();
    }
    await breathe(200);

    ctx.log('http-small: bare Fastify');
    const file = join(dir, 'answer.json');
    writeFileSync(file, answer);
    const bare = await startServer(join(ctx.root, 'dist/test/bench/bare-server.js'), { BARE_RESPONSE_FILE: file }, '/readyz');
    let base: LoadResult;
    try {
      base = await measure(`${bare.url}/v1/gradients`);
    } finally {
      await bare.stop();
    }

    const rows: Row[] = [];
    const add = (who: string, r: LoadResult) => {
      const extra = { p50Ms: r.p50Ms, failures: r.failures, responses: r.responses };
      rows.push({ scenario: 'http-small', name: `two-weight chain, ${CONNECTIONS} connections: ${who} throughput`, value: round(r.rps, 0), unit: 'req/s', ...extra });
      rows.push({ scenario: 'http-small', name: `two-weight chain, ${CONNECTIONS} connections: ${who} p99 latency`, value: r.p99Ms, unit: 'ms' });
    };
    add('gradserve', ours);
    add('bare Fastify', base);
    rows.push({
      scenario: 'http-small',
      name: 'two-weight chain: gradserve / bare Fastify throughput',
      value: round(ours.rps / base.rps, 2),
      unit: '×',
      target: { op: '>=', limit: 0.5, label: 'small-request throughput vs bare Fastify' },
      ...(ours.failures > 0 ? { note: `${ours.failures} failed requests` } : {}),
    });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
