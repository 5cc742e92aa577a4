import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startApp, twoWeight } from './helpers.js';
import { onnxFile } from '../helpers/onnx.js';
import { readFile, SAFETENSORS, safetensors, type RawTensor } from '../wire/safetensors-helpers.js';
import { dropSpares, spareBufferBytes } from '../../src/wire/ownership.js';

// safetensors bodies and answers on every compute route, through the real worker pool: the same
// numbers as the JSON paths, in all four combinations of body and answer type.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

async function send(url: string, body: Buffer | object, accept = 'application/json') {
  const binary = Buffer.isBuffer(body);
  const res = await app.inject({
    method: 'POST',
    url,
    payload: binary ? body : JSON.stringify(body),
    headers: { 'content-type': binary ? SAFETENSORS : 'application/json', accept },
  });
  const ct = String(res.headers['content-type']);
  if (ct.startsWith(SAFETENSORS)) return { status: res.statusCode, headers: res.headers, file: readFile(res.rawPayload), body: undefined as any };
  return { status: res.statusCode, headers: res.headers, file: undefined, body: JSON.parse(res.body) };
}

// a 4-3-2 MLP on 5 rows, cross-entropy against class indices
const rows = 5;
const x = Array.from({ length: rows * 4 }, (_, i) => Math.sin(i + 1));
const classes = [0, 1, 1, 0, 1];
const model = { type: 'mlp', inputSize: 4, layers: [{ units: 3, activation: 'tanh' }, { units: 2 }], init: { scheme: 'default', seed: 3 } };
const loss = { type: 'cross_entropy' };
const f32 = (shape: number[], values: number[]): RawTensor => ({ dtype: 'F32', shape, values });

const jsonMlp = { model, loss, inputs: { shape: [rows, 4], data: x }, targets: classes };
const binaryMlp = (extra: Record<string, unknown> = {}, tensors: Record<string, RawTensor> = {}) =>
  safetensors({ inputs: f32([rows, 4], x), targets: { dtype: 'I64', shape: [rows], values: classes }, ...tensors }, { model, loss, ...extra });

const base64Floats = (t: { dtype: string; base64: string }) => {
  const b = Buffer.from(t.base64, 'base64');
  const copy = new Uint8Array(b).buffer;
  return Array.from(t.dtype === 'float64' ? new Float64Array(copy) : new Float32Array(copy));
};

describe('/v1/gradients in safetensors', () => {
  let reference: any;
  beforeAll(async () => {
    reference = (await send('/v1/gradients', { ...jsonMlp, options: { encoding: 'base64' } })).body;
  });

  it('binary both ways: the JSON path\'s gradients, bit for bit, with the rest in __metadata__.json', async () => {
    const r = await send('/v1/gradients', binaryMlp(), SAFETENSORS);
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toBe(SAFETENSORS);
    const names = Object.keys(r.file!.tensors).sort();
    expect(names).toEqual(['gradients/layers.0.bias', 'gradients/layers.0.weight', 'gradients/layers.1.bias', 'gradients/layers.1.weight',
      'params/layers.0.bias', 'params/layers.0.weight', 'params/layers.1.bias', 'params/layers.1.weight']);
    for (const [p, g] of Object.entries<any>(reference.gradients)) {
      const t = r.file!.tensors[`gradients/${p}`]!;
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(g.shape);
      expect(Array.from(t.data)).toEqual(base64Floats(g));
    }
    expect(r.file!.json.loss).toBe(reference.loss);
    expect(r.file!.json.diagnostics).toEqual(reference.diagnostics);
    expect(r.file!.json.timing.totalMs).toBeGreaterThan(0);
    expect(r.file!.json.gradients).toBeUndefined();
    // the writer pads the header so the data starts 8-byte aligned
    expect(r.file!.dataStart % 8).toBe(0);
  });

  it('binary in, JSON out (options.encoding applies) and JSON in, binary out', async () => {
    const a = await send('/v1/gradients', binaryMlp({ options: { encoding: 'base64' } }));
    expect(a.status).toBe(200);
    expect(a.body.gradients).toEqual(reference.gradients);
    expect(a.body.loss).toBe(reference.loss);

    const b = await send('/v1/gradients', jsonMlp, SAFETENSORS);
    expect(b.status).toBe(200);
    for (const [p, g] of Object.entries<any>(reference.gradients)) expect(Array.from(b.file!.tensors[`gradients/${p}`]!.data)).toEqual(base64Floats(g));
  });

  it('a mixed body: some tensors in the data, others in __metadata__.json in any JSON encoding', async () => {
    const params = Object.fromEntries(Object.entries<any>(reference.params).map(([k, v]) => [k, v]));
    const [first, ...others] = Object.keys(params);
    const body = safetensors(
      { inputs: f32([rows, 4], x), [`params/${first}`]: { dtype: 'F32', shape: params[first!].shape, values: base64Floats(params[first!]) } },
      { model, loss, targets: classes, params: Object.fromEntries(others.map((k) => [k, params[k]])), options: { encoding: 'base64' } },
    );
    const r = await send('/v1/gradients', body);
    expect(r.status).toBe(200);
    expect(r.body.gradients).toEqual(reference.gradients);
  });

  it('F64 tensors compute in float64 when options.dtype is absent; I32 targets are class indices too', async () => {
    const body = safetensors({ inputs: { dtype: 'F64', shape: [rows, 4], values: x }, targets: { dtype: 'I32', shape: [rows], values: classes } }, { model, loss });
    const r = await send('/v1/gradients', body, SAFETENSORS);
    expect(r.status).toBe(200);
    const g64 = (await send('/v1/gradients', { ...jsonMlp, options: { dtype: 'float64', encoding: 'base64' } })).body;
    for (const [p, g] of Object.entries<any>(g64.gradients)) {
      const t = r.file!.tensors[`gradients/${p}`]!;
      expect(t.dtype).toBe('F64');
      expect(Array.from(t.data)).toEqual(base64Floats(g));
    }
    // options.dtype wins over the tensors' dtype
    const f = await send('/v1/gradients', safetensors({ inputs: { dtype: 'F64', shape: [rows, 4], values: x } }, { model, loss, targets: classes, options: { dtype: 'float32' } }), SAFETENSORS);
    expect(f.file!.tensors['gradients/layers.0.weight']!.dtype).toBe('F32');
  });

  it('F16 and BF16 widen exactly to float32', async () => {
    // 1.5, -2, 0.0999755859375 (F16 0x2e66), 65504 (the largest F16), 2^-24 (the smallest subnormal)
    const f16 = new Uint16Array([0x3e00, 0xc000, 0x2e66, 0x7bff, 0x0001]);
    // 1.5, -2, 3.140625, 1e38-ish (0x7e96), the smallest BF16 subnormal (0x0001)
    const bf16 = new Uint16Array([0x3fc0, 0xc000, 0x4049, 0x7e96, 0x0001]);
    const graph = {
      type: 'graph', inputs: ['a', 'b'], params: { w: { shape: [5] } },
      nodes: [{ id: 'p', op: 'mul', inputs: ['w', 'a'] }, { id: 'q', op: 'mul', inputs: ['p', 'b'] }, { id: 'L', op: 'sum', inputs: ['q'] }], output: 'L',
    };
    const body = safetensors(
      { 'inputs/a': { dtype: 'F16', shape: [5], values: new Uint8Array(f16.buffer) }, 'inputs/b': { dtype: 'BF16', shape: [5], values: new Uint8Array(bf16.buffer) } },
      { model: graph, params: { w: [1, 1, 1, 1, 0] }, options: { inputGradients: true, encoding: 'flat' } },
    );
    const r = await send('/v1/gradients', body);
    expect(r.status).toBe(200);
    const a = [1.5, -2, 0.0999755859375, 65504, 2 ** -24];
    const b = [1.5, -2, 3.140625, new Float32Array(new Uint32Array([0x7e960000]).buffer)[0]!, new Float32Array(new Uint32Array([0x00010000]).buffer)[0]!];
    // dL/db = w·a, dL/da = w·b, exactly (JSON prints float32 as shortest decimals: Math.fround reads them back)
    expect(r.body.inputGradients.b.data.map(Math.fround)).toEqual([1.5, -2, 0.0999755859375, 65504, 0]);
    expect(r.body.inputGradients.a.data.map(Math.fround)).toEqual([...b.slice(0, 4), 0]);
    expect(a[4]).toBe(5.960464477539063e-8);
  });

  it('an unaligned tensor (a header not padded) is copied, with the same result', async () => {
    let body: Buffer = Buffer.alloc(0);
    // other __metadata__ keys are ignored: one of the right length shifts the data off alignment
    for (let note = ''; note.length < 4; note += 'x') {
      body = safetensors({ inputs: f32([rows, 4], x), targets: { dtype: 'I64', shape: [rows], values: classes } }, { model, loss }, { pad: false, extraMeta: { note } });
      if ((8 + Number(body.readBigUInt64LE(0))) % 4 !== 0) break;
    }
    expect((8 + Number(body.readBigUInt64LE(0))) % 4).not.toBe(0);
    const r = await send('/v1/gradients', body, SAFETENSORS);
    expect(r.status).toBe(200);
    for (const [p, g] of Object.entries<any>(reference.gradients)) expect(Array.from(r.file!.tensors[`gradients/${p}`]!.data)).toEqual(base64Floats(g));
  });

  it('an optimizer step with its state: optimizerState buffers out as tensors, back in as tensors', async () => {
    const first = await send('/v1/gradients', binaryMlp({ optimizer: { type: 'adam', lr: 0.01 } }), SAFETENSORS);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const names = Object.keys(first.file!.tensors);
    expect(names).toContain('optimizerState/state/layers.0.weight/exp_avg');
    expect(names).toContain('optimizerState/state/layers.0.weight/exp_avg_sq');
    expect(first.file!.json.optimizerState.step).toBe(1);
    // the second step from the binary state equals the second step from the JSON state
    const state: Record<string, RawTensor> = {};
    const params: Record<string, RawTensor> = {};
    for (const [name, t] of Object.entries(first.file!.tensors)) {
      const raw = { dtype: t.dtype, shape: t.shape, values: Array.from(t.data) };
      if (name.startsWith('optimizerState/')) state[name.replace('optimizerState/', 'optimizer/state/')] = raw;
      if (name.startsWith('params/')) params[name] = raw;
    }
    const jsonState = first.file!.json.optimizerState;
    const second = await send('/v1/gradients', binaryMlp({ optimizer: { type: 'adam', lr: 0.01, state: jsonState } }, { ...params, ...state }), SAFETENSORS);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.file!.json.optimizerState.step).toBe(2);

    const j1 = (await send('/v1/gradients', { ...jsonMlp, optimizer: { type: 'adam', lr: 0.01 }, options: { encoding: 'base64' } })).body;
    const j2 = (await send('/v1/gradients', { ...jsonMlp, params: j1.params, optimizer: { type: 'adam', lr: 0.01, state: j1.optimizerState }, options: { encoding: 'base64' } })).body;
    for (const [p, v] of Object.entries<any>(j2.params)) expect(Array.from(second.file!.tensors[`params/${p}`]!.data)).toEqual(base64Floats(v));
  });
});

describe('the other compute routes in safetensors', () => {
  it('/v1/forward: outputs as a tensor, loss in the metadata', async () => {
    const j = (await send('/v1/forward', { ...jsonMlp, options: { encoding: 'base64' } })).body;
    const r = await send('/v1/forward', binaryMlp(), SAFETENSORS);
    expect(r.status).toBe(200);
    expect(Array.from(r.file!.tensors.outputs!.data)).toEqual(base64Floats(j.outputs));
    expect(r.file!.json.loss).toBe(j.loss);
  });

  it('/v1/gradcheck and /v1/explain: binary bodies; their answers are metadata only', async () => {
    const gc = await send('/v1/gradcheck', binaryMlp(), SAFETENSORS);
    expect(gc.status).toBe(200);
    expect(Object.keys(gc.file!.tensors)).toEqual([]);
    expect(gc.file!.json.passed).toBe(true);

    const body = safetensors({ 'params/w1': { dtype: 'F64', shape: [], values: [0.5] }, 'inputs/x': { dtype: 'F64', shape: [], values: [2] } }, {
      ...twoWeight, params: { w2: -1.5 }, inputs: { t: 1 },
    });
    const e = await send('/v1/explain', body, SAFETENSORS);
    expect(e.status).toBe(200);
    expect(Object.keys(e.file!.tensors)).toEqual([]);
    const ej = await send('/v1/explain', twoWeight);
    const { timing: _a, ...fromBinary } = e.file!.json;
    const { timing: _b, ...fromJson } = ej.body;
    expect(fromBinary).toEqual(fromJson);
    expect(JSON.stringify(fromJson)).toContain('"dot"');
  });

  it('/v1/step: params and gradients in, params and state out', async () => {
    const body = safetensors(
      { 'params/w': { dtype: 'F64', shape: [2], values: [0.5, -1.5] }, 'gradients/w': { dtype: 'F64', shape: [2], values: [15, -5] } },
      { optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 } },
    );
    const r = await send('/v1/step', body, SAFETENSORS);
    expect(r.status).toBe(200);
    expect(r.file!.tensors['params/w']!.dtype).toBe('F64');
    expect(Array.from(r.file!.tensors['params/w']!.data)).toEqual([0.5 - 1.5, -1.5 + 0.5]);
    expect(Array.from(r.file!.tensors['optimizerState/state/w/momentum_buffer']!.data)).toEqual([15, -5]);
    // a model route's tensor name is not a field of /v1/step
    const wrong = await send('/v1/step', safetensors({ inputs: f32([1], [1]) }, { params: { w: 1 }, gradients: { w: 1 }, optimizer: { type: 'sgd', lr: 0.1 } }));
    expectProblem({ ...wrong, body: wrong.body }, 400, 'INVALID_REQUEST');
    expect(wrong.body.errors[0].path).toBe('inputs');
  });

  it('/v1/train: with Accept safetensors, one answer with the final state (no NDJSON stream)', async () => {
    const steps = 3;
    const j = (await send('/v1/train', { ...jsonMlp, optimizer: { type: 'sgd', lr: 0.1 }, steps, options: { encoding: 'base64' } })).body;
    const r = await send('/v1/train', binaryMlp({ optimizer: { type: 'sgd', lr: 0.1 }, steps }), `application/x-ndjson, ${SAFETENSORS}`);
    expect(r.status).toBe(200);
    expect(r.file!.json.losses).toEqual(j.losses);
    for (const [p, v] of Object.entries<any>(j.params)) expect(Array.from(r.file!.tensors[`params/${p}`]!.data)).toEqual(base64Floats(v));
  });
});

describe('an ONNX file\'s own parameter names, digits first and "/" inside, over safetensors', () => {
  // torch names a Sequential's layers 0, 1, ...; other exporters write paths (dense/bias)
  const onnx = {
    type: 'onnx',
    bytes: onnxFile({
      nodes: [{ name: 'fc', op: 'Gemm', inputs: ['x', '0.weight', 'dense/bias'], outputs: ['logits'], attrs: { transB: 1 } }],
      initializers: { '0.weight': [[2, 3], [0.1, -0.2, 0.3, 0.4, 0.5, -0.6]], 'dense/bias': [[2], [0.05, -0.05]] },
      inputs: { x: ['batch', 3] },
      outputs: ['logits'],
    }),
  };
  const request = { model: onnx, loss: { type: 'cross_entropy', output: 'logits' }, optimizer: { type: 'adam', lr: 0.01 } };
  const data = { 'inputs/x': f32([2, 3], [1, 2, 3, -1, 0.5, 2]), targets: { dtype: 'I64', shape: [2], values: [1, 0] } };
  const json = { ...request, inputs: { x: { shape: [2, 3], data: [1, 2, 3, -1, 0.5, 2] } }, targets: [1, 0], options: { encoding: 'base64' } };

  it('the answer\'s params and optimizer state go back as the next request, as in JSON', async () => {
    const first = await send('/v1/gradients', safetensors(data, request), SAFETENSORS);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(Object.keys(first.file!.tensors)).toContain('params/0.weight');
    expect(Object.keys(first.file!.tensors)).toContain('optimizerState/state/dense/bias/exp_avg');
    const back: Record<string, RawTensor> = {};
    for (const [name, t] of Object.entries(first.file!.tensors)) {
      if (name.startsWith('params/')) back[name] = { dtype: t.dtype, shape: t.shape, values: Array.from(t.data as Float32Array) };
      if (name.startsWith('optimizerState/')) back[`optimizer/state/${name.slice('optimizerState/'.length)}`] = { dtype: t.dtype, shape: t.shape, values: Array.from(t.data as Float32Array) };
    }
    const second = await send('/v1/gradients', safetensors({ ...data, ...back }, { ...request, optimizer: { ...request.optimizer, state: first.file!.json.optimizerState }, options: { encoding: 'base64' } }));
    expect(second.status, JSON.stringify(second.body)).toBe(200);

    const j1 = (await send('/v1/gradients', json)).body;
    const j2 = (await send('/v1/gradients', { ...json, params: j1.params, optimizer: { ...request.optimizer, state: j1.optimizerState } })).body;
    expect(second.body.loss).toBe(j2.loss);
    expect(second.body.params).toEqual(j2.params);
  });
});

describe('Accept chooses the answer by its q-values, in any case, and the answer says it varies by Accept', () => {
  const kind = (r: { file?: unknown }) => (r.file === undefined ? 'json' : 'safetensors');

  it('compute routes: safetensors only when Accept prefers it to JSON', async () => {
    for (const [accept, expected] of [
      [SAFETENSORS, 'safetensors'],
      [SAFETENSORS.toUpperCase(), 'safetensors'],
      [`application/json, ${SAFETENSORS}`, 'safetensors'],
      [`${SAFETENSORS};q=0, application/json`, 'json'],
      [`application/json, ${SAFETENSORS};q=0.5`, 'json'],
      [`*/*;q=0.1, ${SAFETENSORS};q=0.2`, 'safetensors'],
      ['*/*', 'json'],
    ] as const) {
      const r = await send('/v1/gradients', jsonMlp, accept);
      expect([accept, r.status, kind(r)]).toEqual([accept, 200, expected]);
      expect(r.headers.vary).toBe('accept');
    }
  });

  it('/v1/train: the stream when Accept prefers NDJSON to safetensors, its last line in the encoding asked', async () => {
    const body = { ...jsonMlp, optimizer: { type: 'sgd', lr: 0.1 }, steps: 2 };
    const r = await app.inject({ method: 'POST', url: '/v1/train', payload: body, headers: { accept: `application/x-ndjson, ${SAFETENSORS};q=0.5` } });
    expect(String(r.headers['content-type'])).toMatch(/^application\/x-ndjson/);
    expect(r.headers.vary).toBe('accept');
    const last = JSON.parse(r.body.trim().split('\n').at(-1)!);
    expect(Array.isArray(last.params['layers.0.weight'])).toBe(true);
    expect(kind(await send('/v1/train', body, `application/x-ndjson;q=0.5, ${SAFETENSORS}`))).toBe('safetensors');
    expect(kind(await send('/v1/train', body, `application/x-ndjson;q=0, application/json`))).toBe('json');
  });
});

describe('errors stay problem+json, naming the tensor', () => {
  it('JSON sent as safetensors: a 400 that says so; a safetensors body where only JSON goes: a 415', async () => {
    const json = await app.inject({ method: 'POST', url: '/v1/gradients', payload: JSON.stringify(jsonMlp), headers: { 'content-type': SAFETENSORS } });
    expectProblem({ status: json.statusCode, headers: json.headers, body: JSON.parse(json.body) }, 400, 'INVALID_BODY');
    expect(JSON.parse(json.body).detail).toMatch(/starts like JSON, which goes with Content-Type: application\/json/);
    const models = await app.inject({ method: 'POST', url: '/v1/models', payload: safetensors({}, model), headers: { 'content-type': SAFETENSORS } });
    expectProblem({ status: models.statusCode, headers: models.headers, body: JSON.parse(models.body) }, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(JSON.parse(models.body).detail).toBe('POST /v1/models takes application/json; safetensors bodies go to the compute routes');
  });

  it('NaN or ±Inf in a tensor: 422 at its name', async () => {
    const r = await send('/v1/gradients', binaryMlp({}, { 'params/layers.0.bias': f32([3], [0, NaN, 1]) }), SAFETENSORS);
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0]).toEqual({ path: 'params/layers.0.bias', message: 'element 1 is not finite (NaN)' });
    const inf = await send('/v1/gradients', binaryMlp({}, { 'params/layers.0.bias': { dtype: 'F16', shape: [1], values: new Uint8Array(new Uint16Array([0x7c00]).buffer) } }));
    expectProblem(inf, 422, 'INVALID_SPEC');
    // an F64 element that a float32 computation (the body's other tensors are F32) would hold as Infinity
    const big = { dtype: 'F64', shape: [3], values: new Uint8Array(Float64Array.of(0, 1e39, 1).buffer) };
    const over = await send('/v1/gradients', binaryMlp({}, { 'params/layers.0.bias': big }));
    expectProblem(over, 422, 'INVALID_SPEC');
    expect(over.body.errors[0]).toEqual({
      path: 'params/layers.0.bias',
      message: 'element 1 (1e+39) is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"',
    });
  });

  it('integers beyond ±2^53: 422 at the name', async () => {
    const body = safetensors({ inputs: f32([rows, 4], x), targets: { dtype: 'I64', shape: [rows], values: new Uint8Array(BigInt64Array.from([0n, 2n ** 60n, 0n, 0n, 0n]).buffer) } }, { model, loss });
    const r = await send('/v1/gradients', body);
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].path).toBe('targets');
  });

  it('a tensor given twice, an unknown name, metadata failing the schema: 400 with the path', async () => {
    const twice = await send('/v1/gradients', safetensors({ inputs: f32([rows, 4], x) }, { ...jsonMlp }));
    expectProblem(twice, 400, 'INVALID_BODY');
    expect(twice.body.errors[0].path).toBe('inputs');

    const unknown = await send('/v1/gradients', binaryMlp({}, { 'weights/w': f32([1], [1]) }));
    expectProblem(unknown, 400, 'INVALID_BODY');
    expect(unknown.body.errors[0].path).toBe('weights/w');

    const schema = await send('/v1/gradients', binaryMlp({ loss: { type: 'hinge' } }));
    expectProblem(schema, 400, 'INVALID_REQUEST');
    expect(schema.body.errors[0].path).toBe('loss.type');

    // a model by reference holds its own constants: the tensor is named, not the ref's extra field
    const ref = { ref: `sha256:${'0'.repeat(64)}` };
    const byRef = await send('/v1/gradients', safetensors({ 'model/constants/c': f32([1], [1]) }, { model: ref, params: { w: 1 } }));
    expectProblem(byRef, 400, 'INVALID_BODY');
    expect(byRef.body.errors).toEqual([{ path: 'model/constants/c', message: expect.stringMatching(/^a model by reference \(model\.ref\) already holds its constants/) }]);

    const notJson = await send('/v1/gradients', safetensors({ inputs: f32([1], [1]) }, undefined, { extraMeta: { json: '{"model":' } }));
    expectProblem(notJson, 400, 'INVALID_BODY');
    expect(notJson.body.errors[0].path).toBe('__metadata__.json');
  });

  it('a body without Content-Length (chunked) answers as the same body with it; over BODY_LIMIT either way is a 413', async () => {
    const body = binaryMlp();
    const chunked = await app.inject({
      method: 'POST',
      url: '/v1/gradients',
      payload: Readable.from([body.subarray(0, 13), body.subarray(13, 200), body.subarray(200)]),
      headers: { 'content-type': SAFETENSORS },
    });
    const whole = await send('/v1/gradients', body);
    expect(chunked.statusCode).toBe(200);
    expect(JSON.parse(chunked.body).gradients).toEqual(whole.body.gradients);
    const small = await startApp({ bodyLimitBytes: 100 });
    try {
      for (const payload of [body, Readable.from([body.subarray(0, 60), body.subarray(60)])]) {
        const res = await small.inject({ method: 'POST', url: '/v1/gradients', payload, headers: { 'content-type': SAFETENSORS } });
        expectProblem({ status: res.statusCode, headers: res.headers, body: JSON.parse(res.body) }, 413, 'BODY_TOO_LARGE');
      }
    } finally {
      await small.close();
    }
  });

  it('the element limit applies before anything is converted: 413 at the name', async () => {
    const small = await startApp({ maxElements: 10 });
    try {
      const res = await small.inject({ method: 'POST', url: '/v1/gradients', payload: binaryMlp(), headers: { 'content-type': SAFETENSORS } });
      expect(res.statusCode).toBe(413);
      expect(JSON.parse(res.body).errors[0].path).toBe('inputs');
    } finally {
      await small.close();
    }
  });

  it('bodies read onto the buffers of answers already written give the answers fresh buffers would', async () => {
    // a 300-feature linear layer: its weight and gradient (64×300 float32, 75 KiB) are large enough to be spared
    const big = { type: 'mlp', inputSize: 300, layers: [{ units: 64, activation: 'tanh' }, { units: 2 }] };
    const values = (seed: number, n: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i) / 10);
    const body = (seed: number) =>
      safetensors(
        {
          'params/layers.0.weight': f32([64, 300], values(seed, 64 * 300)),
          'params/layers.0.bias': f32([64], values(seed + 1, 64)),
          'params/layers.1.weight': f32([2, 64], values(seed + 2, 128)),
          'params/layers.1.bias': f32([2], [0.1, -0.1]),
          inputs: f32([3, 300], values(seed + 3, 900)),
          targets: { dtype: 'I64', shape: [3], values: [0, 1, 1] },
        },
        { model: big, loss },
      );
    dropSpares();
    const first = await send('/v1/gradients', body(1), SAFETENSORS);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // the weight's gradient went to the spares once written, and the next body took it
    expect(spareBufferBytes()).toBe(64 * 300 * 4);
    const other = await send('/v1/gradients', body(2), SAFETENSORS);
    expect(spareBufferBytes()).toBe(64 * 300 * 4);
    const again = await send('/v1/gradients', body(1), SAFETENSORS);
    expect(Object.keys(first.file!.tensors)).toHaveLength(4);
    for (const [name, t] of Object.entries(first.file!.tensors)) {
      expect(again.file!.tensors[name], name).toEqual(t);
      expect(other.file!.tensors[name], name).not.toEqual(t);
    }
  });
});
