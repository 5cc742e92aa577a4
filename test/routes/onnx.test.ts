import { readFileSync } from 'node:fs';
import { SAFETENSORS, safetensors, type RawTensor } from '../wire/safetensors-helpers.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyOnnx } from '../../src/routes/shared/examples.js';
import { ATTRIBUTES, SUPPORTED } from '../../src/wire/onnx/ops.js';
import { encodeOnnx, onnxFile, onnxObject, type TestGraph } from '../helpers/onnx.js';
import { expectProblem, post, startApp, twoWeight } from './helpers.js';

// ONNX models exported by torch (scripts/gen-onnx-fixtures.py, test/fixtures/onnx/): the service's
// loss and gradients against torch's, in float64 (1e-6 relative) and float32 (1e-4), through the routes.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

interface Fixture {
  model: string;
  inputs: Record<string, { shape: number[]; data: number[] }>;
  targets: { shape: number[]; data: number[] };
  loss: { type: string; output: string };
  ops: string[];
  batchnorm?: 'eval' | 'train';
  float64: Reference;
  float32: Reference;
}
interface Reference {
  loss: number;
  outputs: number[];
  gradients: Record<string, { shape: number[]; data: number[] }>;
}

const dir = new URL('../fixtures/onnx/', import.meta.url);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Fixture;
const base64 = (file: string) => readFileSync(new URL(file, dir)).toString('base64');

function request(name: string, dtype: 'float32' | 'float64') {
  const f = fixture(name);
  return {
    model: { type: 'onnx', bytes: base64(f.model), ...(f.batchnorm ? { batchnorm: f.batchnorm } : {}) },
    inputs: f.inputs,
    targets: f.targets,
    loss: f.loss,
    options: { dtype, encoding: 'flat', returnOutputs: true },
  };
}

/** a flat tensor's rows, for a 2-D one */
const nested = ({ shape, data }: { shape: number[]; data: number[] }) => Array.from({ length: shape[0]! }, (_, i) => data.slice(i * shape[1]!, (i + 1) * shape[1]!));

/** max |a − b| / max(|b|, floor) over the elements */
function relErr(a: number[], b: number[], floor = 1e-3): number {
  expect(a.length).toBe(b.length);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(Math.abs(b[i]!), floor)));
}

describe.each(['tiny', 'mlp', 'block', 'norm-eval', 'norm-train', 'fresh-norm-eval', 'embed', 'cnn-eval', 'cnn-train', 'transformer'])('the exported %s', (name) => {
  it.each([
    ['float64', 1e-6],
    ['float32', 1e-4],
  ] as const)('gives torch\'s loss and gradients in %s', async (dtype, tol) => {
    const f = fixture(name);
    const ref = f[dtype];
    const res = await post(app, '/v1/gradients', request(name, dtype));
    expect(res.status, res.raw).toBe(200);
    expect(Math.abs(res.body.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(tol);
    expect(relErr(res.body.outputs.data, ref.outputs)).toBeLessThan(tol);
    expect(Object.keys(res.body.gradients).sort()).toEqual(Object.keys(ref.gradients).sort());
    for (const [param, g] of Object.entries(ref.gradients)) {
      expect(res.body.gradients[param].shape, param).toEqual(g.shape);
      expect(relErr(res.body.gradients[param].data, g.data), param).toBeLessThan(tol);
    }
  });
});

/** y = relu(x·Wᵀ + b) summed: a model small enough to read, with an initializer to override */
const tiny: TestGraph = {
  nodes: [
    { name: 'fc', op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: ['h'], attrs: { transB: 1 } },
    { name: 'act', op: 'Relu', inputs: ['h'], outputs: ['y'] },
  ],
  initializers: { W: [[2, 3], [0.5, -1, 2, 1, 0.25, -0.5]], b: [[2], [0.25, -0.5]] },
  inputs: { x: ['batch', 3] },
  outputs: ['y'],
};
const x = [[1, 2, 3], [-1, 0.5, 2]];

describe('ONNX models', () => {
  it('the OpenAPI document\'s example is the tiny fixture, whose gradients are checked above', () => {
    expect(tinyOnnx.model.bytes).toBe(base64('tiny.onnx'));
    expect(tinyOnnx.inputs.x).toEqual(nested(fixture('tiny').inputs.x));
    expect(tinyOnnx.targets).toEqual(fixture('tiny').targets.data);
  });

  it('hold the initializers named in model.frozen constant: no gradient, not stepped (torch buffers, frozen layers)', async () => {
    const bytes = encodeOnnx(onnxObject(tiny));
    const body = { inputs: { x }, targets: [[0, 1], [1, 0]], loss: { type: 'mse' }, options: { dtype: 'float64' } };
    const all = await post(app, '/v1/gradients', { ...body, model: { type: 'onnx', bytes } });
    const frozen = await post(app, '/v1/gradients', { ...body, model: { type: 'onnx', bytes, frozen: ['b'] } });
    expect(frozen.status, frozen.raw).toBe(200);
    expect(Object.keys(frozen.body.gradients)).toEqual(['W']);
    expect(frozen.body.gradients.W).toEqual(all.body.gradients.W);
    const trained = await post(app, '/v1/train', { ...body, model: { type: 'onnx', bytes, frozen: ['b'] }, optimizer: { type: 'sgd', lr: 0.1 }, steps: 2 });
    expect(trained.status, trained.raw).toBe(200);
    expect(Object.keys(trained.body.params)).toEqual(['W']);
    const unknown = await post(app, '/v1/gradients', { ...body, model: { type: 'onnx', bytes, frozen: ['W', 'bias'] } });
    expectProblem(unknown, 422, 'INVALID_SPEC');
    expect(unknown.body.errors[0]).toEqual({ path: 'model.frozen[1]', message: '"bias" is not a float initializer of the ONNX file' });
  });

  it('come in a safetensors body too: the file as model/bytes (U8), the same gradients as base64 in JSON', async () => {
    const { model, ...rest } = request('mlp', 'float64');
    const file = readFileSync(new URL(fixture('mlp').model, dir));
    const send = (tensors: Record<string, RawTensor>, meta: object) =>
      app.inject({ method: 'POST', url: '/v1/gradients', headers: { 'content-type': SAFETENSORS }, payload: safetensors(tensors, meta) });
    const binary = await send({ 'model/bytes': { dtype: 'U8', shape: [file.length], values: new Uint8Array(file) } }, { ...rest, model: { type: 'onnx' } });
    expect(binary.statusCode, binary.body).toBe(200);
    const json = await post(app, '/v1/gradients', { model, ...rest });
    expect(JSON.parse(binary.body).gradients).toEqual(json.body.gradients);
    // U8 is a file's bytes: only at model/bytes, and model/bytes only as U8
    const elsewhere = await send({ 'model/bytes': { dtype: 'U8', shape: [file.length], values: new Uint8Array(file) }, 'inputs/x': { dtype: 'U8', shape: [1], values: new Uint8Array(1) } }, { model: { type: 'onnx' } });
    expect(elsewhere.statusCode).toBe(400);
    expect(JSON.parse(elsewhere.body).errors[0].path).toBe('inputs/x');
    const notU8 = await send({ 'model/bytes': { dtype: 'F32', shape: [1], values: [1] } }, { model: { type: 'onnx' } });
    expect(notU8.statusCode).toBe(400);
    expect(JSON.parse(notU8.body).errors[0].path).toBe('model/bytes');
  });

  it('take the file\'s initializers as defaults, and the request\'s params over them', async () => {
    const body = { model: { type: 'onnx', bytes: onnxFile(tiny) }, inputs: { x }, outputGrad: [[1, 1], [1, 1]], options: { dtype: 'float64', returnOutputs: true } };
    const res = await post(app, '/v1/gradients', body);
    expect(res.status, res.raw).toBe(200);
    // h = [[4.75, -0.5], [3.25, -2.375]]: relu passes the first column
    expect(res.body.outputs).toEqual([[4.75, 0], [3.25, 0]]);
    expect(res.body.gradients.W).toEqual([[0, 2.5, 5], [0, 0, 0]]);
    expect(res.body.gradients.b).toEqual([2, 0]);
    expect(res.body.params).toBeUndefined();
    const over = await post(app, '/v1/gradients', { ...body, params: { b: [0, 10] } });
    expect(over.body.outputs).toEqual([[4.5, 10], [3, 8.125]]);
    expect(over.body.gradients.b).toEqual([2, 2]);
    // the import is kept for these shapes: its defaults were copied into each job, not moved
    const again = await post(app, '/v1/gradients', body);
    expect(again.body.outputs).toEqual([[4.75, 0], [3.25, 0]]);
    const wrong = await post(app, '/v1/gradients', { ...body, params: { b: [0, 1, 2] } });
    expectProblem(wrong, 422, 'INVALID_SPEC');
    expect(wrong.body.errors[0].path).toBe('params.b');
  });

  it('attach the loss to the named output, and list the outputs when there is none of that name', async () => {
    const body = { model: { type: 'onnx', bytes: onnxFile(tiny) }, inputs: { x }, targets: [[0, 0], [0, 0]], loss: { type: 'mse', output: 'h' }, options: { dtype: 'float64' } };
    const res = await post(app, '/v1/gradients', body);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.loss).toBe((4.75 ** 2 + 0.5 ** 2 + 3.25 ** 2 + 2.375 ** 2) / 4);
    const bad = await post(app, '/v1/gradients', { ...body, loss: { type: 'mse', output: 'logits' } });
    expectProblem(bad, 422, 'INVALID_SPEC');
    expect(bad.body.errors[0]).toEqual({ path: 'loss.output', message: 'the ONNX graph has no output "logits" (its outputs: y)' });
    const graph = await post(app, '/v1/gradients', { ...twoWeight, targets: 0, loss: { type: 'mse', output: 'y' } });
    expectProblem(graph, 422, 'INVALID_SPEC');
    expect(graph.body.errors[0].path).toBe('loss.output');
  });

  it('check the data against the declared inputs', async () => {
    const base = { model: { type: 'onnx', bytes: onnxFile(tiny) }, outputGrad: [[1, 1]] };
    const wrongDim = await post(app, '/v1/gradients', { ...base, inputs: { x: [[1, 2]] } });
    expectProblem(wrongDim, 422, 'INVALID_SPEC');
    expect(wrongDim.body.errors[0]).toMatchObject({ path: 'inputs.x', message: expect.stringContaining('[batch, 3]') });
    const missing = await post(app, '/v1/gradients', { ...base, inputs: { z: [[1, 2, 3]] } });
    expectProblem(missing, 422, 'INVALID_SPEC');
    expect(missing.body.errors[0].path).toBe('inputs.x');
  });

  it('list every unsupported node with its op type and opset, and the supported ops, in one 422', async () => {
    const g: TestGraph = {
      nodes: [
        { name: 'conv', op: 'LSTM', inputs: ['x', 'W'], outputs: ['c'] },
        { name: 'act', op: 'Relu', inputs: ['c'], outputs: ['r'] },
        { name: 'nz', op: 'NonZero', inputs: ['r'], outputs: ['n'] },
        { name: 'custom', op: 'Foo', inputs: ['r'], outputs: ['f'], domain: 'com.example' },
        { name: 'erf', op: 'Erf', inputs: ['r'], outputs: ['e'] },
      ],
      initializers: { W: [[1, 1, 1, 1], [1]] },
      inputs: { x: [1, 1, 2, 2] },
      outputs: ['f'],
      opset: 14,
    };
    const res = await post(app, '/v1/gradients', { model: { type: 'onnx', bytes: onnxFile(g) }, inputs: { x: [[[[1, 2], [3, 4]]]] } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['model.graph.node[0]', 'model.graph.node[2]', 'model.graph.node[3]', 'model.graph.node[4]']);
    expect(res.body.errors[0].message).toMatch(/^node "conv" \(LSTM, opset 14\) is not supported; supported ops: Abs, Add, AveragePool, BatchNormalization, .*Gemm/);
    expect(res.body.errors[2].message).toContain('(com.example.Foo, opset 14)');
    expect(res.body.errors[3].message).toContain('only as part of GELU');
  });

  it('refuse op types named as a JavaScript object\'s own members as unsupported, not with a 500', async () => {
    const g: TestGraph = {
      nodes: [{ name: 'a', op: 'toString', inputs: ['x', 'W'] }, { name: 'b', op: 'constructor', inputs: ['a'] }],
      initializers: { W: [[3], [1, 2, 3]] },
      inputs: { x: ['batch', 3] },
      outputs: ['b'],
    };
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(g) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors.map((e: { message: string }) => e.message.split(';')[0])).toEqual(['node "a" (toString, opset 17) is not supported', 'node "b" (constructor, opset 17) is not supported']);
  });

  it('name the node whose attributes the engine\'s op refuses, and the node a shape does not fit', async () => {
    const g: TestGraph = {
      nodes: [{ name: 'ln', op: 'LayerNormalization', inputs: ['x', 's'], attrs: { epsilon: 0 } }],
      initializers: { s: [[3], [1, 1, 1]] },
      inputs: { x: ['batch', 3] },
      outputs: ['ln'],
    };
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(g) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toMatchObject({ path: 'model.graph.node[0]', message: expect.stringMatching(/^node "ln" \(LayerNormalization\): its attributes do not fit the layernorm op \(\{"axis":-1,"eps":0\}\): eps: /) });
    const mm: TestGraph = { nodes: [{ name: 'mm', op: 'MatMul', inputs: ['x', 's'] }], initializers: { s: [[2, 2], [1, 0, 0, 1]] }, inputs: { x: ['batch', 3] }, outputs: ['mm'] };
    const shape = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(mm) }, inputs: { x } });
    expectProblem(shape, 422, 'INVALID_SPEC');
    expect(shape.body.errors[0]).toMatchObject({ path: 'model.graph.node[0]', message: expect.stringContaining('node "mm" (MatMul): matmul: inner dimensions differ in [2, 3] @ [2, 2]') });
  });

  it('answer a file with bytes changed anywhere with a 200 or a 4xx, never a 5xx', async () => {
    const file = readFileSync(new URL('block.onnx', dir));
    let seed = 19;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const statuses = new Set<number>();
    for (let k = 0; k < 60; k++) {
      const bytes = Buffer.from(file);
      for (let j = 0; j < 3; j++) bytes[next() % bytes.length] = next() % 256;
      const f = fixture('block');
      const res = await post(app, '/v1/gradients', { model: { type: 'onnx', bytes: bytes.toString('base64') }, inputs: f.inputs, targets: f.targets, loss: f.loss });
      expect(res.status, res.raw).toBeLessThan(500);
      statuses.add(res.status);
    }
    expect([...statuses].some((s) => s >= 400)).toBe(true);
  });

  it('name the node whose constant operands the op refuses when it is computed at import', async () => {
    const g: TestGraph = {
      nodes: [
        { name: 'table', op: 'Constant', inputs: [], attrs: { value_floats: [1.5, 2, 3] } },
        { name: 'pick', op: 'GatherElements', inputs: ['table', 'idx'], attrs: { axis: 0 } },
        { name: 'y', op: 'Mul', inputs: ['x', 'pick'] },
      ],
      inputs: { x: ['batch', 3] },
      outputs: ['y'],
    };
    const file = onnxObject(g);
    file.graph.initializer.push({ name: 'idx', dims: [3], data_type: 7, int64_data: [0, 5, 1] } as never);
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toEqual({ path: 'model.graph.node[1]', message: 'node "pick" (GatherElements): gather: index 5 at index[1] is out of range [0, 3)' });
    // an initializer table is a param: the same index fails when the graph runs, naming the node's input
    const param = onnxObject({ ...g, nodes: g.nodes.slice(1), initializers: { table: [[3], [1.5, 2, 3]] } });
    param.graph.initializer.push({ name: 'idx', dims: [3], data_type: 7, int64_data: [0, 5, 1] } as never);
    const run = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(param) }, inputs: { x } });
    expectProblem(run, 422, 'INVALID_SPEC');
    expect(run.body.errors[0]).toEqual({ path: 'model.graph.node[0].inputs[1]', message: 'gather: index 5 at index[1] is out of range [0, 3)' });
  });

  it('batch norm in training mode: a training-mode export\'s running statistics left out, a graph without batch norm refused', async () => {
    // x [4, 2] normalized per channel with the batch's statistics, as torch's model.train()
    const g: TestGraph = {
      nodes: [{ name: 'bn', op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y', 'rm', 'rv'], attrs: { training_mode: 1 } }],
      initializers: { s: [[2], [1, 2]], b: [[2], [0, 1]], m: [[2], [0, 0]], v: [[2], [1, 1]] },
      inputs: { x: ['batch', 2] },
      outputs: ['y'],
    };
    const xs = [[1, 10], [3, 10], [5, 20], [7, 20]];
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(g), batchnorm: 'train' }, inputs: { x: xs }, options: { dtype: 'float64' } });
    expect(res.status, res.raw).toBe(200);
    const z = 1 / Math.sqrt(5); // column 0: mean 4, variance 5 (ε = 1e-5 aside)
    const want = [-3 * z, -1, -z, -1, z, 3, 3 * z, 3];
    (res.body.outputs as number[][]).flat().forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    // a graph that reads them is refused
    const read = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile({ ...g, outputs: ['y', 'rm'] }), batchnorm: 'train' }, inputs: { x: xs } });
    expectProblem(read, 422, 'INVALID_SPEC');
    expect(read.body.errors[0].message).toContain('its running statistics output "rm" is read by the graph');
    // eval-mode exports fold batch norm away: "train" would change nothing, so it is refused
    const folded = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(tiny), batchnorm: 'train' }, inputs: { x } });
    expectProblem(folded, 422, 'INVALID_SPEC');
    expect(folded.body.errors[0]).toMatchObject({ path: 'model.batchnorm', message: expect.stringContaining('TrainingMode.PRESERVE') });
  });

  it('slice constants with any step at import, as torch\'s F.pad builds its pads (a step of −1)', async () => {
    const g: TestGraph = {
      nodes: [
        { name: 'table', op: 'Constant', inputs: [], attrs: { value_floats: [1, 2, 3, 4, 5, 6] } },
        { name: 'back', op: 'Slice', inputs: ['table', 'start', 'end', 'axis', 'step'] },
        { name: 'y', op: 'Add', inputs: ['x', 'back'] },
      ],
      inputs: { x: ['batch', 3] },
      outputs: ['y'],
    };
    const file = onnxObject(g);
    // from the last element back to the first, two at a time; the end as torch writes it, INT64_MIN
    const int64 = (name: string, v: number) => ({ name, dims: [1], data_type: 7, int64_data: [v] }) as never;
    file.graph.initializer.push(int64('start', -1), int64('end', -Number.MAX_SAFE_INTEGER), int64('axis', 0), int64('step', -2));
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x: [[0, 0, 0], [1, 1, 1]] } });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.outputs).toEqual([[6, 4, 2], [7, 5, 3]]);
    // on the data, a step other than 1 is refused, naming the node
    const onData = onnxObject({ ...g, nodes: [{ name: 'back', op: 'Slice', inputs: ['x', 'start', 'end', 'one', 'step'] }], outputs: ['back'] });
    onData.graph.initializer.push(int64('start', -1), int64('end', -Number.MAX_SAFE_INTEGER), int64('one', 1), int64('step', -2));
    const refused = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(onData) }, inputs: { x: [[0, 0, 0], [1, 1, 1]] } });
    expectProblem(refused, 422, 'INVALID_SPEC');
    expect(refused.body.errors[0]).toEqual({
      path: 'model.graph.node[0]',
      message: 'node "back" (Slice): steps other than 1 are supported on constants only, not on values computed from the inputs',
    });
  });

  it('refuse a constant of negative dimensions made at import, naming the node', async () => {
    const file = onnxObject({
      nodes: [{ name: 'zeros', op: 'ConstantOfShape', inputs: ['dims'] }, { name: 'y', op: 'Add', inputs: ['x', 'zeros'] }],
      inputs: { x: ['batch', 3] },
      outputs: ['y'],
    });
    file.graph.initializer.push({ name: 'dims', dims: [2], data_type: 7, int64_data: [-1, 3] } as never);
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toEqual({
      path: 'model.graph.node[0]',
      message: 'node "zeros" (ConstantOfShape): makes a constant of shape [-1, 3]: dimensions must be non-negative integers',
    });
  });

  it('are documented op by op: docs/onnx.md names every op the importer reads', () => {
    const doc = readFileSync(new URL('../../docs/onnx.md', import.meta.url), 'utf8');
    expect(SUPPORTED.filter((op) => !new RegExp(`\\b${op}\\b`).test(doc))).toEqual([]);
  });

  it('refuse a node without the inputs its op needs, and a graph without outputs', async () => {
    const g: TestGraph = { nodes: [{ name: 'gemm', op: 'Gemm', inputs: ['x', ''] }], inputs: { x: ['batch', 3] }, outputs: ['gemm'] };
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile(g) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toEqual({ path: 'model.graph.node[0]', message: 'node "gemm" (Gemm): needs at least 2 inputs, has 1' });
    const none = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: onnxFile({ ...tiny, outputs: [] }) }, inputs: { x } });
    expectProblem(none, 422, 'INVALID_SPEC');
    expect(none.body.errors[0].path).toBe('model.graph.output');
  });

  it('refuse malformed and truncated files, opsets out of range and external data with a 4xx naming the field', async () => {
    const send = (bytes: string) => post(app, '/v1/gradients', { model: { type: 'onnx', bytes }, inputs: { x }, outputGrad: [[1, 1], [1, 1]] });
    const garbage = await send(Buffer.from('this is not an onnx file').toString('base64'));
    expectProblem(garbage, 400, 'INVALID_REQUEST');
    expect(garbage.body.errors[0].path).toBe('model.bytes');
    const file = readFileSync(new URL('mlp.onnx', dir));
    for (const cut of [7, 100, file.length >> 1, file.length - 3]) {
      const truncated = await send(file.subarray(0, cut).toString('base64'));
      expect([400, 422], `${cut} bytes: ${truncated.raw}`).toContain(truncated.status);
      expect(truncated.body.errors[0].path).toMatch(/^model\./);
    }
    for (const opset of [12, 19]) {
      const res = await send(onnxFile({ ...tiny, opset }));
      expectProblem(res, 422, 'INVALID_SPEC');
      expect(res.body.errors[0]).toMatchObject({ path: 'model.opset_import', message: expect.stringContaining(`opset ${opset} of the default domain is outside the supported 13–18`) });
    }
    const external = onnxObject(tiny);
    Object.assign(external.graph.initializer[0]!, { float_data: [], data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }] });
    const ext = await send(encodeOnnx(external));
    expectProblem(ext, 422, 'INVALID_SPEC');
    expect(ext.body.errors[0]).toMatchObject({ path: 'model.graph.initializer.W', message: expect.stringContaining('external data') });
    const twice = onnxObject(tiny);
    twice.graph.initializer.push({ ...twice.graph.initializer[0]! });
    const dup = await send(encodeOnnx(twice));
    expectProblem(dup, 422, 'INVALID_SPEC');
    expect(dup.body.errors[0]).toEqual({ path: 'model.graph.initializer.W', message: 'a second initializer of this name: each must have its own' });
    const short = onnxObject(tiny);
    short.graph.initializer[0]!.float_data = [1, 2];
    const res = await send(encodeOnnx(short));
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0].message).toContain('holds 2 elements, not the 6 of its dims [2, 3]');
  });
});

describe('ONNX limits', () => {
  let small: FastifyInstance;
  beforeAll(async () => {
    small = await startApp({ maxNodes: 3, maxElements: 20 });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('count nodes and initializer elements before anything is allocated', async () => {
    const chain: TestGraph = { nodes: ['a', 'b', 'c', 'd'].map((name, k) => ({ name, op: 'Relu', inputs: [k === 0 ? 'x' : String(k - 1)], outputs: [String(k)] })), inputs: { x: [1] }, outputs: ['3'] };
    const nodes = await post(small, '/v1/gradients', { model: { type: 'onnx', bytes: onnxFile(chain) }, inputs: { x: [1] }, outputGrad: [1] });
    expectProblem(nodes, 413, 'LIMIT_EXCEEDED');
    expect(nodes.body.errors[0].message).toContain('4 ONNX nodes, over the limit of 3 (MAX_NODES)');
    const big: TestGraph = { ...tiny, initializers: { W: [[2, 3], [1, 2, 3, 4, 5, 6]], b: [[2], [0, 0]], unused: [[100, 1000], []] } };
    const elements = await post(small, '/v1/gradients', { model: { type: 'onnx', bytes: onnxFile(big) }, inputs: { x }, outputGrad: [[1, 1], [1, 1]] });
    expectProblem(elements, 413, 'LIMIT_EXCEEDED');
    expect(elements.body.errors[0]).toMatchObject({ path: 'model.graph.initializer.unused', message: expect.stringContaining('100008 elements') });
  });

  it('count the nodes and the graph\'s other entries from the field headers, before decoding a message', async () => {
    const send = (file: object) => post(small, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x: [1] } });
    // a thousand empty nodes and no output: refused for their number, before the decoder would look for outputs
    const empty = onnxObject({ nodes: [], inputs: { x: [1] }, outputs: [] });
    empty.graph.node = Array.from({ length: 1000 }, () => ({}) as never);
    const nodes = await send(empty);
    expectProblem(nodes, 413, 'LIMIT_EXCEEDED');
    expect(nodes.body.errors[0]).toMatchObject({ path: 'model.graph.node', message: expect.stringContaining('1000 ONNX nodes, over the limit of 3 (MAX_NODES)') });
    const listed = onnxObject({ nodes: [{ name: 'y', op: 'Relu', inputs: ['x'] }], inputs: { x: [1] }, outputs: ['y'] });
    (listed.graph as Record<string, unknown>).value_info = Array.from({ length: 20 }, (_, i) => ({ name: `v${i}` }));
    const entries = await send(listed);
    expectProblem(entries, 413, 'LIMIT_EXCEEDED');
    expect(entries.body.errors[0]).toMatchObject({ path: 'model.graph', message: expect.stringContaining('22 initializers, inputs, outputs and value_info entries (4 per node allowed), over the limit of 12') });
  });
});

describe('ONNX attributes', () => {
  /** the one problem of a 422 for this file on /v1/forward with x [2, 3] */
  async function refusal(file: string) {
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: file }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors).toHaveLength(1);
    return res.body.errors[0];
  }
  const one = (node: TestGraph['nodes'][number], opset = 17) => onnxFile({ nodes: [node], inputs: { x: ['batch', 3] }, outputs: [node.name], opset });
  const int64s = (name: string, values: number[]) => ({ name, dims: [values.length], data_type: 7, int64_data: values }) as never;

  it('are refused when one is given twice, at the second, naming the node', async () => {
    const file = onnxObject(tiny);
    file.graph.node[0]!.attribute.push({ name: 'transB', type: 2, i: 0 } as never);
    expect(await refusal(encodeOnnx(file))).toEqual({
      path: 'model.graph.node[0].attribute.transB',
      message: 'node "fc" (Gemm): attribute "transB" is given twice; ONNX allows each attribute once per node',
    });
  });

  it('are refused outside the values the spec allows: flags other than 0 and 1, modes it does not name, axes out of range', async () => {
    const gemm = await refusal(onnxFile({ ...tiny, nodes: [{ ...tiny.nodes[0]!, attrs: { transB: 5 } }, tiny.nodes[1]!] }));
    expect(gemm).toEqual({ path: 'model.graph.node[0].attribute.transB', message: 'node "fc" (Gemm): attribute "transB" is 5; it must be 0 or 1' });
    const mean = await refusal(one({ name: 'mean', op: 'ReduceMean', inputs: ['x'], attrs: { axes: [1], keepdims: 2 } }));
    expect(mean).toEqual({ path: 'model.graph.node[0].attribute.keepdims', message: 'node "mean" (ReduceMean): attribute "keepdims" is 2; it must be 0 or 1' });
    const pad = onnxObject({ nodes: [{ name: 'pad', op: 'Pad', inputs: ['x', 'pads'], attrs: { mode: 'wrap' } }], inputs: { x: ['batch', 3] }, outputs: ['pad'] });
    pad.graph.initializer.push(int64s('pads', [0, 1, 0, 1]));
    expect(await refusal(encodeOnnx(pad))).toEqual({ path: 'model.graph.node[0].attribute.mode', message: 'node "pad" (Pad): attribute "mode" is "wrap"; it must be "constant", "reflect" or "edge"' });
    const flatten = await refusal(one({ name: 'flat', op: 'Flatten', inputs: ['x'], attrs: { axis: 3 } }));
    expect(flatten).toEqual({ path: 'model.graph.node[0].attribute.axis', message: 'node "flat" (Flatten): attribute "axis" is 3; for an input of rank 2 it must be from -2 to 2' });
    const softmax = await refusal(one({ name: 'soft', op: 'Softmax', inputs: ['x'], attrs: { axis: -3 } }));
    expect(softmax.message).toBe('node "soft" (Softmax): attribute "axis" is -3; for an input of rank 2 it must be from -2 to 1');
    // Flatten may split after the last axis: [2, 3] as [6, 1]
    const last = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: one({ name: 'flat', op: 'Flatten', inputs: ['x'], attrs: { axis: 2 } }) }, inputs: { x } });
    expect(last.status, last.raw).toBe(200);
    expect(last.body.outputs).toEqual([[1], [2], [3], [-1], [0.5], [2]]);
    // registering the model checks them too
    const reg = await post(app, '/v1/models', { type: 'onnx', bytes: onnxFile({ ...tiny, nodes: [{ ...tiny.nodes[0]!, attrs: { transB: 5 } }, tiny.nodes[1]!] }) });
    expectProblem(reg, 422, 'INVALID_SPEC');
    expect(reg.body.errors[0].message).toBe('node "fc" (Gemm): attribute "transB" is 5; it must be 0 or 1');
  });

  it('are refused when of another type than the spec gives them', async () => {
    const file = onnxObject(tiny);
    file.graph.node[0]!.attribute = [{ name: 'transB', type: 7, ints: [1] } as never];
    expect(await refusal(encodeOnnx(file))).toEqual({
      path: 'model.graph.node[0].attribute.transB',
      message: 'node "fc" (Gemm): attribute "transB" is of type INTS; Gemm takes it as an integer (INT)',
    });
    file.graph.node[0]!.attribute.push({ name: 'alpha', type: 2, i: 2 } as never);
    file.graph.node[0]!.attribute[0] = { name: 'transB', type: 2, i: 1 } as never;
    expect((await refusal(encodeOnnx(file))).message).toBe('node "fc" (Gemm): attribute "alpha" is of type INT; Gemm takes it as a float (FLOAT)');
  });

  it('are refused when the op has no such attribute, in any opset or in the model\'s', async () => {
    const gemm = await refusal(onnxFile({ ...tiny, nodes: [{ ...tiny.nodes[0]!, attrs: { transB: 1, transC: 1 } }, tiny.nodes[1]!] }));
    expect(gemm).toEqual({ path: 'model.graph.node[0].attribute.transC', message: 'node "fc" (Gemm): unknown attribute "transC": Gemm of opset 17 has only alpha, beta, transA, transB' });
    const relu = await refusal(onnxFile({ ...tiny, nodes: [tiny.nodes[0]!, { ...tiny.nodes[1]!, attrs: { alpha: 0.5 } }] }));
    expect(relu).toEqual({ path: 'model.graph.node[1].attribute.alpha', message: 'node "act" (Relu): unknown attribute "alpha": Relu of opset 17 has no attributes' });
    // allowzero came with Reshape-14; from opset 18 ReduceMean takes its axes as an input
    const reshape = onnxObject({ nodes: [{ name: 'rs', op: 'Reshape', inputs: ['x', 'shape'], attrs: { allowzero: 0 } }], inputs: { x: ['batch', 3] }, outputs: ['rs'], opset: 13 });
    reshape.graph.initializer.push(int64s('shape', [3, 2]));
    expect(await refusal(encodeOnnx(reshape))).toEqual({ path: 'model.graph.node[0].attribute.allowzero', message: 'node "rs" (Reshape): attribute "allowzero" is not in Reshape of opset 13, only of opsets 14–18' });
    const mean = await refusal(one({ name: 'mean', op: 'ReduceMean', inputs: ['x'], attrs: { axes: [1] } }, 18));
    expect(mean.message).toBe('node "mean" (ReduceMean): attribute "axes" is not in ReduceMean of opset 18, only of opsets 13–17');
  });

  it('are refused when the spec\'s rules between them or with the inputs do not hold', async () => {
    const constant = await refusal(onnxFile({
      nodes: [{ name: 'c', op: 'Constant', inputs: [], attrs: { value_float: 1.5, value_floats: [2.5] } }, { name: 'y', op: 'Add', inputs: ['x', 'c'] }],
      inputs: { x: ['batch', 3] },
      outputs: ['y'],
    }));
    expect(constant).toEqual({ path: 'model.graph.node[0]', message: 'node "c" (Constant): has the attributes value_float, value_floats; a Constant has exactly one' });
    const fill = onnxObject({ nodes: [{ name: 'zeros', op: 'ConstantOfShape', inputs: ['dims'] }, { name: 'y', op: 'Add', inputs: ['x', 'zeros'] }], inputs: { x: ['batch', 3] }, outputs: ['y'] });
    fill.graph.initializer.push(int64s('dims', [3]));
    fill.graph.node[0]!.attribute.push({ name: 'value', type: 4, t: { dims: [2], data_type: 1, float_data: [1, 2] } } as never);
    expect((await refusal(encodeOnnx(fill))).message).toBe('node "zeros" (ConstantOfShape): its value is a tensor of 2 elements; ConstantOfShape\'s value has one, the fill');
    const conv = await post(app, '/v1/forward', {
      model: { type: 'onnx', bytes: onnxFile({ nodes: [{ name: 'conv', op: 'Conv', inputs: ['x', 'W'], attrs: { kernel_shape: [2] } }], initializers: { W: [[1, 1, 3], [1, 1, 1]] }, inputs: { x: ['batch', 1, 4] }, outputs: ['conv'] }) },
      inputs: { x: [[[1, 2, 3, 4]]] },
    });
    expectProblem(conv, 422, 'INVALID_SPEC');
    expect(conv.body.errors[0]).toEqual({ path: 'model.graph.node[0]', message: 'node "conv" (Conv): kernel_shape [2] is not the weight\'s [3]' });
  });

  it('list only ops the importer reads', () => {
    expect(Object.keys(ATTRIBUTES).filter((op) => !SUPPORTED.includes(op))).toEqual([]);
  });
});

describe('the default domain\'s opset', () => {
  it('is refused when imported twice', async () => {
    const file = onnxObject(tiny);
    file.opset_import.push({ domain: 'ai.onnx', version: 13 });
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toEqual({
      path: 'model.opset_import',
      message: 'the default domain ("" or "ai.onnx") is imported twice, with opsets 17 and 13: ONNX allows one opset per domain',
    });
  });
});

describe('ONNX models by reference', () => {
  it('register once with their params in the summary, and answer by id as inline; explain names the file\'s nodes', async () => {
    const spec = { type: 'onnx', bytes: base64('mlp.onnx') };
    const reg = await post(app, '/v1/models', spec);
    expect([200, 201], reg.raw).toContain(reg.status); // 200 when an inline request above made it known
    expect(reg.body.summary.params).toEqual([
      { name: 'fc1.weight', shape: [8, 6] }, { name: 'fc1.bias', shape: [8] }, { name: 'norm.weight', shape: [8] }, { name: 'norm.bias', shape: [8] },
      { name: 'fc2.weight', shape: [8, 8] }, { name: 'fc2.bias', shape: [8] }, { name: 'fc3.weight', shape: [3, 16] }, { name: 'fc3.bias', shape: [3] },
    ]);
    expect(reg.body.summary.ops).toMatchObject({ gelu: 1, linear: 3, layernorm: 1 });
    const inline = request('mlp', 'float64');
    const byRef = { ...inline, model: { ref: reg.body.id } };
    const [a, b] = [await post(app, '/v1/gradients', inline), await post(app, '/v1/gradients', byRef)];
    expect(b.status, b.raw).toBe(200);
    expect(b.body.gradients).toEqual(a.body.gradients);
    const explain = await post(app, '/v1/explain', { ...byRef, options: { dtype: 'float64' } });
    expect(explain.status, explain.raw).toBe(200);
    const ids = explain.body.nodes.map((n: { id: string }) => n.id);
    expect(ids).toEqual(expect.arrayContaining(['x', 'fc1.weight', '/fc1/Gemm', '/Tanh', '/norm/LayerNormalization', '/Mul_1', '/fc3/Gemm']));
    expect(ids).not.toContain('/Erf');
  });
});

describe('the ONNX ops torch\'s exports above do not use', () => {
  // opset 18 (Reduce* axes as an input), Gemm with transA, alpha, beta and a [1, n] C, Dropout,
  // Identity, variadic Max/Min/Sum, Softsign, Sin, Cos, Reciprocal, Selu with its own constants, and
  // Shape/Cast/ConstantOfShape/Squeeze folded into a Reshape's shape
  const W = [0.5, -1, 0.25, 2, 1, -0.5];
  const C = [0.375, -0.25];
  const K = [0.875, 0.5]; // float32-exact, as the file stores them
  const g: TestGraph = {
    opset: 18,
    nodes: [
      { name: 'gemm', op: 'Gemm', inputs: ['x', 'W', 'C'], attrs: { transA: 1, alpha: 0.5, beta: 2 } },
      { name: 'drop', op: 'Dropout', inputs: ['gemm'] },
      { name: 'id', op: 'Identity', inputs: ['drop'] },
      { name: 'floor', op: 'Constant', inputs: [], attrs: { value_float: 0.125 } },
      { name: 'mx', op: 'Max', inputs: ['id', 'floor'] },
      { name: 'mn', op: 'Min', inputs: ['mx', 'K', 'id'] },
      { name: 'sum', op: 'Sum', inputs: ['mn', 'id', 'mx'] },
      { name: 'soft', op: 'Softsign', inputs: ['sum'] },
      { name: 'sin', op: 'Sin', inputs: ['soft'] },
      { name: 'cos', op: 'Cos', inputs: ['sin'] },
      { name: 'selu', op: 'Selu', inputs: ['cos'], attrs: { alpha: 1.5, gamma: 1.25 } },
      { name: 'axes', op: 'Constant', inputs: [], attrs: { value_ints: [1] } },
      { name: 'red', op: 'ReduceSum', inputs: ['selu', 'axes'], attrs: { keepdims: 1 } },
      { name: 'shape', op: 'Shape', inputs: ['x'] },
      { name: 'cast', op: 'Cast', inputs: ['shape'], attrs: { to: 1 } },
      { name: 'ones', op: 'ConstantOfShape', inputs: ['one'] },
      { name: 'back', op: 'Cast', inputs: ['cast'], attrs: { to: 7 } },
      { name: 'batch', op: 'Slice', inputs: ['back', 'one', 'two'] },
      { name: 'rs', op: 'Reshape', inputs: ['red', 'batch'] },
      { name: 'plus', op: 'Add', inputs: ['rs', 'five'] },
      { name: 'y', op: 'Reciprocal', inputs: ['plus'] },
    ],
    initializers: { W: [[3, 2], W], C: [[1, 2], C], K: [[2], K], five: [[], [5]] },
    inputs: { x: [3, 'batch'] },
    outputs: ['y'],
  };
  // the Slice's bounds as int64 initializers
  const file = onnxObject(g);
  file.graph.initializer.push(
    { name: 'one', dims: [1], data_type: 7, int64_data: [1] } as never,
    { name: 'two', dims: [1], data_type: 7, int64_data: [2] } as never,
  );
  const bytes = encodeOnnx(file);
  const xT = [[1, -2], [0.5, 3], [2, -1]]; // x is [3, batch]: batch 2

  function reference(): number[] {
    const out: number[] = [];
    for (let r = 0; r < 2; r++) {
      let total = 0;
      for (let j = 0; j < 2; j++) {
        let h = 0;
        for (let k = 0; k < 3; k++) h += xT[k]![r]! * W[k * 2 + j]!;
        const v = 0.5 * h + 2 * C[j]!;
        const mx = Math.max(v, 0.125);
        const s = Math.min(mx, K[j]!, v) + v + mx;
        const c = Math.cos(Math.sin(s / (1 + Math.abs(s))));
        total += 1.25 * (c > 0 ? c : 1.5 * Math.expm1(c));
      }
      out.push(1 / (total + 5));
    }
    return out;
  }

  it('compute what their definitions say, and backprop what finite differences find', async () => {
    const body = { model: { type: 'onnx', bytes }, inputs: { x: xT }, options: { dtype: 'float64' } };
    const fwd = await post(app, '/v1/forward', body);
    expect(fwd.status, fwd.raw).toBe(200);
    expect(relErr(fwd.body.outputs, reference(), 1)).toBeLessThan(1e-12);
    const check = await post(app, '/v1/gradcheck', { ...body, targets: [0.1, 0.2], loss: { type: 'mse' }, inputs: { x: xT.map((row) => row.map((v) => v + 0.01)) } });
    expect(check.status, check.raw).toBe(200);
    expect(Object.keys(check.body.params).sort()).toEqual(['C', 'K', 'W', 'five']);
    expect(check.body.passed, JSON.stringify(check.body.params)).toBe(true);
  });
});

describe('GatherElements, Expand, Where and GlobalAveragePool', () => {
  const g: TestGraph = {
    nodes: [
      { name: 'pick', op: 'GatherElements', inputs: ['x', 'idx'], attrs: { axis: 1 } },
      { name: 'grow', op: 'Expand', inputs: ['pick', 'shape'] },
      { name: 'neg', op: 'Neg', inputs: ['grow'] },
      { name: 'sel', op: 'Where', inputs: ['cond', 'grow', 'neg'] },
      { name: 'scaled', op: 'Mul', inputs: ['sel', 'w'] },
      { name: 'sum', op: 'ReduceSum', inputs: ['scaled', 'axes'], attrs: { keepdims: 0 } },
      // the two sums as an image [1, 1, 2, 1], averaged: [1, 1, 1, 1]
      { name: 'image', op: 'Unsqueeze', inputs: ['sum', 'unsq'] },
      { name: 'pool', op: 'GlobalAveragePool', inputs: ['image'] },
      { name: 'y', op: 'Flatten', inputs: ['pool'], attrs: { axis: 0 } },
    ],
    initializers: { w: [[3, 1, 1], [0.5, -1, 2]] },
    inputs: { x: ['batch', 3] },
    outputs: ['y'],
  };
  const file = onnxObject(g);
  file.graph.initializer.push(
    { name: 'idx', dims: [2, 2], data_type: 7, int64_data: [0, 2, 1, 1] } as never,
    { name: 'shape', dims: [3], data_type: 7, int64_data: [3, 1, 2] } as never,
    { name: 'cond', dims: [2], data_type: 9, int32_data: [1, 0] } as never,
    { name: 'axes', dims: [2], data_type: 7, int64_data: [0, 2] } as never,
    { name: 'unsq', dims: [3], data_type: 7, int64_data: [0, 1, 3] } as never,
  );
  const x = [[1, 2, 3], [4, 5, 6]];

  it('compute ONNX\'s semantics and backprop what finite differences find', async () => {
    const body = { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x }, options: { dtype: 'float64' } };
    const fwd = await post(app, '/v1/forward', body);
    expect(fwd.status, fwd.raw).toBe(200);
    // pick = [[1, 3], [5, 5]], grown to [3, 2, 2], column 1 negated, times w[k] over k, summed over k
    // and columns, then the two rows' sums averaged
    const w = 0.5 - 1 + 2;
    expect(fwd.body.outputs).toEqual([[(w * (1 - 3) + w * (5 - 5)) / 2]]);
    const check = await post(app, '/v1/gradcheck', { ...body, outputGrad: undefined, targets: [[0.5]], loss: { type: 'mse' }, options: { dtype: 'float64', inputGradients: true } });
    expect(check.status, check.raw).toBe(200);
    expect(Object.keys(check.body.params)).toEqual(['w']);
    expect(check.body.passed, JSON.stringify(check.body.params)).toBe(true);
    const grads = await post(app, '/v1/gradients', { ...body, outputGrad: [[2]], options: { dtype: 'float64', inputGradients: true } });
    expect(grads.body.inputGradients.x).toEqual([[w, 0, -w], [0, 0, 0]]);
  });
});

describe('Clip, HardSigmoid, HardSwish, Split, CumSum and ReduceLogSumExp', () => {
  const g: TestGraph = {
    opset: 17,
    nodes: [
      { name: 'h', op: 'Mul', inputs: ['x', 'w'] },
      { name: 'split', op: 'Split', inputs: ['h', 'sizes'], outputs: ['u', 'v'], attrs: { axis: 1 } },
      { name: 'clip', op: 'Clip', inputs: ['v', 'lo', 'hi'] },
      { name: 'hsig', op: 'HardSigmoid', inputs: ['u'], attrs: { alpha: 0.25, beta: 0.5 } },
      { name: 'hswish', op: 'HardSwish', inputs: ['v'] },
      { name: 'cum', op: 'CumSum', inputs: ['hswish', 'axis'] },
      { name: 'lse', op: 'ReduceLogSumExp', inputs: ['cum'], attrs: { axes: [1], keepdims: 1 } },
      { name: 'y', op: 'Concat', inputs: ['hsig', 'clip', 'cum', 'lse'], attrs: { axis: 1 } },
    ],
    initializers: { w: [[4], [1, -2, 0.5, 3]], lo: [[], [-0.5]], hi: [[], [1]] },
    inputs: { x: ['batch', 4] },
    outputs: ['y'],
  };
  const file = onnxObject(g);
  file.graph.initializer.push(
    { name: 'sizes', dims: [2], data_type: 7, int64_data: [1, 3] } as never,
    { name: 'axis', dims: [], data_type: 7, int64_data: [1] } as never,
  );
  const x = [[1.5, 0.3, -2, 0.5], [-3, 1, 4, -0.25]]; // no element at a kink (a bound, ±3)

  function reference(row: number[]): number[] {
    const h = row.map((v, k) => v * [1, -2, 0.5, 3][k]!);
    const [u, v] = [h[0]!, h.slice(1)];
    const hswish = v.map((e) => e * Math.min(Math.max(e / 6 + 0.5, 0), 1));
    const cum = hswish.map((_, k) => hswish.slice(0, k + 1).reduce((a, b) => a + b, 0));
    const m = Math.max(...cum);
    return [Math.min(Math.max(0.25 * u + 0.5, 0), 1), ...v.map((e) => Math.min(Math.max(e, -0.5), 1)), ...cum, m + Math.log(cum.reduce((a, c) => a + Math.exp(c - m), 0))];
  }

  it('compute ONNX\'s semantics and backprop what finite differences find', async () => {
    const body = { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x }, options: { dtype: 'float64' } };
    const fwd = await post(app, '/v1/forward', body);
    expect(fwd.status, fwd.raw).toBe(200);
    fwd.body.outputs.forEach((row: number[], r: number) => expect(relErr(row, reference(x[r]!), 1e-12)).toBeLessThan(1e-14));
    const check = await post(app, '/v1/gradcheck', { ...body, targets: x.map(() => new Array(8).fill(0.5)), loss: { type: 'mse' } });
    expect(check.status, check.raw).toBe(200);
    expect(Object.keys(check.body.params)).toEqual(['w']);
    expect(check.body.passed, JSON.stringify(check.body.params)).toBe(true);
  });
});

describe('comparisons', () => {
  // a class token broadcast over the batch, as torch exports cls.expand(x.size(0), -1): the sizes
  // tested against −1 with Equal, the −1s replaced by 1 with Where, all of it shape arithmetic
  const g: TestGraph = {
    nodes: [
      { name: 'size', op: 'Shape', inputs: ['x'] },
      { name: 'unset', op: 'Equal', inputs: ['size', 'minus'] },
      { name: 'target', op: 'Where', inputs: ['unset', 'ones', 'size'] },
      { name: 'tokens', op: 'Expand', inputs: ['cls', 'target'] },
      { name: 'y', op: 'Add', inputs: ['x', 'tokens'] },
    ],
    initializers: { cls: [[1, 3], [0.5, -1, 2]] },
    inputs: { x: ['batch', 3] },
    outputs: ['y'],
  };
  const file = (over: Partial<TestGraph> = {}) => {
    const f = onnxObject({ ...g, ...over });
    f.graph.initializer.push(
      { name: 'minus', dims: [2], data_type: 7, int64_data: [-1, -1] } as never,
      { name: 'ones', dims: [2], data_type: 7, int64_data: [1, 1] } as never,
    );
    return encodeOnnx(f);
  };

  it('of constants are computed at import: x.expand(-1, …) of a class token', async () => {
    const body = { model: { type: 'onnx', bytes: file() }, inputs: { x: [[1, 2, 3], [4, 5, 6]] }, options: { dtype: 'float64' } };
    const r = await post(app, '/v1/gradients', { ...body, outputGrad: [[1, 0, 0], [1, 1, 0]] });
    expect(r.status, r.raw).toBe(200);
    expect(r.body.gradients.cls).toEqual([[2, 1, 0]]);
  });

  it('of data are refused, naming the node', async () => {
    const nodes = [{ name: 'test', op: 'Less', inputs: ['x', 'cls'] }, { name: 'y', op: 'Where', inputs: ['test', 'x', 'cls'] }];
    const r = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: file({ nodes }) }, inputs: { x: [[1, 2, 3]] } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].message).toBe('node "test" (Less): comparisons are imported for constants only (shape arithmetic), not for values computed from the inputs');
  });
});

describe('masked_fill with -inf, as attention masks are written', () => {
  it('keeps the -inf a constant: the masked element gets probability 0 and no gradient', async () => {
    const g: TestGraph = {
      nodes: [
        { name: 'scaled', op: 'Mul', inputs: ['x', 'w'] },
        { name: 'ninf', op: 'Constant', inputs: [], attrs: { value_float: -Infinity } },
        { name: 'masked', op: 'Where', inputs: ['keep', 'scaled', 'ninf'] },
        { name: 'y', op: 'Softmax', inputs: ['masked'], attrs: { axis: -1 } },
      ],
      initializers: { w: [[3], [1, 2, 0.5]] },
      inputs: { x: [1, 3] },
      outputs: ['y'],
    };
    const file = onnxObject(g);
    file.graph.initializer.push({ name: 'keep', dims: [3], data_type: 9, int32_data: [1, 0, 1] } as never);
    const body = { model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x: [[1, 1, 2]] }, options: { dtype: 'float64' } };
    const fwd = await post(app, '/v1/forward', body);
    expect(fwd.status, fwd.raw).toBe(200);
    // softmax of [1, −∞, 1]
    expect(fwd.body.outputs).toEqual([[0.5, 0, 0.5]]);
    const grads = await post(app, '/v1/gradients', { ...body, outputGrad: [[1, 0, 0]] });
    expect(grads.status, grads.raw).toBe(200);
    // dy0/dw0 = y0(1 − y0)·x0 = 0.25, dy0/dw2 = −y0·y2·x2 = −0.5; w1 is masked out
    expect(grads.body.gradients.w).toEqual([0.25, 0, -0.5]);
  });
});

describe('Conv, Pad and pooling attributes torch\'s export above does not use', () => {
  const g: TestGraph = {
    nodes: [
      { name: 'conv', op: 'Conv', inputs: ['x', 'W'], attrs: { kernel_shape: [3] } },
      { name: 'image', op: 'Unsqueeze', inputs: ['conv', 'last'] },
      { name: 'avg', op: 'AveragePool', inputs: ['image'], attrs: { kernel_shape: [2, 1], pads: [1, 0, 1, 0], count_include_pad: 1 } },
      { name: 'pad', op: 'Pad', inputs: ['avg', 'pads', 'fill'] },
      { name: 'max', op: 'MaxPool', inputs: ['pad'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
    ],
    initializers: { W: [[2, 2, 3], [0.5, -1, 0.25, 2, 1, -0.5, 1, 1, -1, 0.5, 0.25, 0.75]] },
    inputs: { x: ['batch', 2, 5] },
    outputs: ['max'],
  };
  const file = (autoPad: string | null) => {
    const f = onnxObject(g);
    if (autoPad !== null) f.graph.node[0]!.attribute.push({ name: 'auto_pad', type: 3, s: Buffer.from(autoPad) } as never);
    f.graph.initializer.push(
      { name: 'last', dims: [1], data_type: 7, int64_data: [3] } as never,
      { name: 'pads', dims: [8], data_type: 7, int64_data: [0, 0, 1, 0, 0, 0, 0, 1] } as never,
      { name: 'fill', dims: [], data_type: 1, float_data: [-0.5] } as never,
    );
    return encodeOnnx(f);
  };
  const x = [[[1, -2, 0.5, 3, -1], [2, 0.25, -1.5, 1, 0.5]]];

  it('auto_pad SAME_UPPER, count_include_pad and a constant Pad: shapes as ONNX says, gradients as finite differences', async () => {
    const body = { model: { type: 'onnx', bytes: file('SAME_UPPER') }, inputs: { x }, options: { dtype: 'float64', encoding: 'flat' } };
    const fwd = await post(app, '/v1/forward', body);
    expect(fwd.status, fwd.raw).toBe(200);
    // conv [1, 2, 5] → [1, 2, 5, 1] → avg (5 + 2 − 2 + 1 = 6 rows) → pad [1, 2, 7, 2] → max [1, 2, 3, 1]
    expect(fwd.body.outputs.shape).toEqual([1, 2, 3, 1]);
    const check = await post(app, '/v1/gradcheck', { ...body, targets: { shape: [1, 2, 3, 1], data: [0, 1, 0, 1, 0, 1] }, loss: { type: 'mse' } });
    expect(check.status, check.raw).toBe(200);
    expect(check.body.passed, JSON.stringify(check.body.params)).toBe(true);
  });

  it('refuse what torch\'s padding cannot say, naming the node', async () => {
    const lower = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: file('SAME_LOWER') }, inputs: { x } });
    expectProblem(lower, 422, 'INVALID_SPEC');
    expect(lower.body.errors[0]).toEqual({ path: 'model.graph.node[0]', message: 'node "conv" (Conv): auto_pad SAME_LOWER is not supported (NOTSET, VALID, SAME_UPPER)' });
    const uneven = onnxObject({ ...g, nodes: [{ name: 'conv', op: 'Conv', inputs: ['x', 'W'], attrs: { pads: [0, 1] } }], outputs: ['conv'] });
    const res = await post(app, '/v1/forward', { model: { type: 'onnx', bytes: encodeOnnx(uneven) }, inputs: { x } });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0].message).toBe('node "conv" (Conv): pads [0, 1] differ between the two sides of a dimension, which torch\'s padding does not do');
  });
});

describe('ONNX models on /v1/train', () => {
  const train = (name: string, batchSize: number) => {
    const { model, inputs, targets, loss } = request(name, 'float64');
    return post(app, '/v1/train', { model, inputs, targets, loss, optimizer: { type: 'sgd', lr: 0.1 }, steps: 3, batchSize });
  };

  it('run minibatches when the import does not depend on the batch size', async () => {
    const res = await train('mlp', 2);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.losses).toHaveLength(3);
  });

  it('run minibatches of a graph that reshapes with the batch size (x.view(x.size(0), -1), flatten): each as the batch alone', async () => {
    for (const name of ['block', 'cnn-eval']) {
      const { model, inputs, targets, loss } = request(name, 'float64');
      const rows = <T extends { shape: number[]; data: number[] }>(t: T, n: number) => ({ shape: [n, ...t.shape.slice(1)], data: t.data.slice(0, (t.data.length / t.shape[0]!) * n) });
      const optimizer = { type: 'sgd', lr: 0.1 };
      const trained = await post(app, '/v1/train', { model, inputs, targets, loss, optimizer, steps: 1, batchSize: 2, options: { dtype: 'float64' } });
      expect(trained.status, trained.raw).toBe(200);
      const alone = await post(app, '/v1/gradients', { model, inputs: { x: rows(inputs.x, 2) }, targets: rows(targets, 2), loss, optimizer, options: { dtype: 'float64' } });
      expect(alone.status, alone.raw).toBe(200);
      expect(trained.body.losses[0]).toBe(alone.body.loss);
      expect(trained.body.params).toEqual(alone.body.params);
    }
  });

  it('refuse minibatches of a graph that folds the batch dimension into a constant', async () => {
    // x [batch, 3, 2] reshaped to [batch · 3, 2] with the batch of 2 written in: [6, 2]
    const g: TestGraph = {
      nodes: [{ name: 'rows', op: 'Reshape', inputs: ['x', 'shape'] }, { name: 'y', op: 'MatMul', inputs: ['rows', 'W'] }],
      initializers: { W: [[2, 1], [0.5, -1]] },
      inputs: { x: ['batch', 3, 2] },
      outputs: ['y'],
    };
    const file = onnxObject(g);
    file.graph.initializer.push({ name: 'shape', dims: [2], data_type: 7, int64_data: [6, 2] } as never);
    const x = [[[1, 2], [3, 4], [5, 6]], [[-1, 0], [0.5, 1], [2, -2]]];
    const res = await post(app, '/v1/train', {
      model: { type: 'onnx', bytes: encodeOnnx(file) }, inputs: { x }, targets: new Array(6).fill([0]), loss: { type: 'mse' },
      optimizer: { type: 'sgd', lr: 0.1 }, steps: 2, batchSize: 1,
    });
    expectProblem(res, 422, 'INVALID_SPEC');
    expect(res.body.errors[0]).toEqual({
      path: 'batchSize',
      message: 'the ONNX graph cannot take a minibatch of 1 row (model.graph.node[0]: node "rows" (Reshape): cannot reshape [1, 3, 2] to [6, 2]: 6 elements do not fill 12 (input shapes [1, 3, 2])): the file fixes the batch size; leave batchSize out, or export with dynamic_axes on the batch',
    });
    // an input declared with a fixed batch: refused as /v1/gradients refuses that batch
    const fixed = await post(app, '/v1/train', {
      model: { type: 'onnx', bytes: encodeOnnx(onnxObject({ ...tiny, inputs: { x: [2, 3] } })) }, inputs: { x: [[1, 2, 3], [-1, 0.5, 2]] },
      targets: [[0, 1], [1, 0]], loss: { type: 'mse' }, optimizer: { type: 'sgd', lr: 0.1 }, steps: 2, batchSize: 1,
    });
    expectProblem(fixed, 422, 'INVALID_SPEC');
    expect(fixed.body.errors[0].message).toContain("(inputs.x: shape [1, 3] does not fit the ONNX graph's [2, 3]");
  });
});
