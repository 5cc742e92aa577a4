// ONNX models by reference against the same graphs as graph specs: what the import costs a request.
// In one process, per request: the body decoded into a job (wire/request.ts: for ONNX, the file's
// import for these shapes, kept per model, and its constants and param values copied into the job; for
// the graph, its constants and params decoded from base64) and the gradients computed, with the
// compiled plan reused by model id as a worker reuses it. The graph spec is the ONNX file's own import,
// written as a client would send it, params included (the ONNX request takes the file's values).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gradients } from '../../src/engine/index.js';
import { LossSpecSchema, type Tensors } from '../../src/engine/spec.js';
import { ModelSpecSchema, OptionsSchema, type ModelSpec } from '../../src/wire/spec.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { importForRequest } from '../../src/wire/onnx/model.js';
import { decodeModelRequest, type ModelBody } from '../../src/wire/request.js';
import { decodeTensor } from '../../src/wire/tensor.js';
import { median, round, timeMs, type Ctx, type Row } from './common.js';

const LIMITS = { maxElements: 4_000_000, maxNodes: 10_000 };
const FIXTURES = ['mlp', 'block', 'embed', 'cnn-eval', 'transformer'];

const base64 = (t: Tensor) => ({ shape: [...t.shape], dtype: 'float64', base64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') });
const wireMap = (ts: Tensors) => Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, base64(t)]));

function bodies(root: string, name: string): { onnx: ModelBody; graph: ModelBody } {
  const dir = join(root, 'test/fixtures/onnx');
  const f = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { model: string; inputs: Record<string, unknown>; targets: unknown; loss: unknown };
  const options = OptionsSchema.parse({ dtype: 'float32', diagnostics: false });
  const loss = LossSpecSchema.parse(f.loss);
  const onnxSpec = ModelSpecSchema.parse({ type: 'onnx', bytes: readFileSync(join(dir, f.model)).toString('base64') }) as ModelSpec & { type: 'onnx' };
  const inputs = Object.fromEntries(Object.entries(f.inputs).map(([k, w]) => [k, decodeTensor(w, 'float64', ['inputs', k])]));
  const { spec, defaults } = importForRequest(onnxSpec, inputs, loss.output, LIMITS);
  // the file's names ("/fc1/Gemm") are not ids a graph spec takes: its nodes and constants renamed
  const ids = new Map<string, string>([...spec.nodes.map((n, k) => [n.id, `n${k}`]), ...Object.keys(spec.constants).map((c, k) => [c, `c${k}`])] as [string, string][]);
  const id = <T>(v: T): T => (typeof v === 'string' ? ((ids.get(v) ?? v) as T) : v);
  const graphSpec = ModelSpecSchema.parse({
    ...spec,
    nodes: spec.nodes.map((n) => ({ id: id(n.id), op: n.op, inputs: n.inputs.map(id), ...(n.attrs ? { attrs: n.attrs } : {}) })),
    constants: wireMap(Object.fromEntries(Object.entries(spec.constants).map(([k, t]) => [id(k), t]))),
    output: id(spec.output),
  });
  const common = { inputs: f.inputs, targets: f.targets, options };
  return {
    onnx: { ...common, model: onnxSpec, loss },
    graph: { ...common, model: graphSpec, params: wireMap(defaults), loss: { ...loss, output: undefined } },
  };
}

/**
 * One request of `body` by reference: decoded into a job naming its model, then its gradients. The
 * same body object each time, as a known model's spec is (the import is kept per spec object).
 */
function request(body: ModelBody, id: string): () => number {
  return () => {
    const job = decodeModelRequest(body, LIMITS);
    job.modelId = id;
    return gradients(job, LIMITS).loss!;
  };
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of FIXTURES) {
    ctx.log(`onnx: ${name}`);
    const { onnx, graph } = bodies(ctx.root, name);
    const [a, b] = [request(onnx, `onnx-${name}`), request(graph, `graph-${name}`)];
    if (Math.abs(a() - b()) > 1e-5 * Math.abs(b())) throw new Error(`onnx: the ${name} file and its graph spec disagree: ${a()} vs ${b()}`);
    // alternating rounds, so drifting load from other processes hits both alike
    const [onnxMs, graphMs]: number[][] = [[], []];
    for (let r = 0; r < 5; r++) {
      onnxMs.push(await timeMs(200, 500, a));
      graphMs.push(await timeMs(200, 500, b));
    }
    const [o, g] = [median(onnxMs), median(graphMs)];
    rows.push(
      { scenario: 'onnx', name: `${name}: ONNX by reference, per request`, value: round(o * 1000, 1), unit: 'µs' },
      { scenario: 'onnx', name: `${name}: the same graph spec, per request`, value: round(g * 1000, 1), unit: 'µs' },
      {
        scenario: 'onnx',
        name: `${name}: ONNX / graph spec`,
        value: round(o / g),
        exact: o / g,
        unit: '×',
        target: { op: '<=', limit: 1.1, label: `import overhead by reference (${name})` },
      },
    );
  }
  return rows;
}
