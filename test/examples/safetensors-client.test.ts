import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import {
  f32,
  f64,
  i64,
  nextOptimizerState,
  postSafetensors,
  ProblemError,
  readSafetensors,
  writeSafetensors,
  type RequestMetadata,
  type Tensor,
} from '../../examples/safetensors-client.js';
import { rng } from '../helpers/op-check.js';

// examples/safetensors-client.ts against a live server on 127.0.0.1: its answers hold the same numbers
// as the JSON route's (base64, so bit for bit), and the optimizer state goes round as tensors.

let app: FastifyInstance;
let base: string;
beforeAll(async () => {
  app = await buildApp(testConfig());
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
});

const random = rng(16);
const uniform = (n: number, scale: number) => Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const model = { type: 'mlp' as const, inputSize: 12, layers: [{ units: 8, activation: 'relu' as const }, { units: 3 }] };
const params: Record<string, Tensor> = {
  'params/layers.0.weight': f32([8, 12], uniform(96, 0.3)),
  'params/layers.0.bias': f32([8], uniform(8, 0.3)),
  'params/layers.1.weight': f32([3, 8], uniform(24, 0.35)),
  'params/layers.1.bias': f32([3], uniform(3, 0.35)),
};
const batch = { inputs: f32([5, 12], uniform(60, 1)), targets: i64([5], [0, 2, 1, 1, 0]) };

/** The same request through the JSON route, every tensor base64, answered in base64. */
async function viaJson(route: string, json: Record<string, unknown>, tensors: Record<string, Tensor>): Promise<any> {
  const body: Record<string, any> = structuredClone(json);
  for (const [name, t] of Object.entries(tensors)) {
    const path = name.split('/');
    let at = body;
    for (const key of path.slice(0, -1)) at = at[key] ??= {};
    at[path.at(-1)!] =
      t.dtype === 'I64' ? Array.from(t.data as BigInt64Array, Number) : { shape: t.shape, dtype: t.dtype === 'F32' ? 'float32' : 'float64', base64: bytes(t) };
  }
  body.options = { ...body.options, encoding: 'base64' };
  const res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}

const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');

describe('safetensors files', () => {
  it('reads back what it writes, every dtype and an empty tensor, with the data 8-byte aligned', () => {
    const tensors: Record<string, Tensor> = {
      a: f32([2, 3], [1, 2, 3, 4, 5, 0.1]),
      b: f64([1], [Math.PI]),
      c: i64([3], [0, -1, 2 ** 40]),
      d: { dtype: 'I32', shape: [2], data: new Int32Array([7, -7]) },
      'e/f': f32([0, 4], []),
    };
    const file = writeSafetensors(tensors, { json: '{"x":1}', note: 'é' });
    const n = Number(Buffer.from(file).readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ json: '{"x":1}', note: 'é' });
    expect(back.tensors).toEqual(tensors);
    expect(() => writeSafetensors({ a: f32([2, 2], [1, 2, 3]) }, {})).toThrow(/3 elements for shape \[2,2\]/);
  });
});

describe('postSafetensors against a live server', () => {
  it('/v1/gradients: the gradients, params after an Adam step and loss of the JSON route, bit for bit', async () => {
    const json: RequestMetadata<'/v1/gradients'> = { model, loss: { type: 'cross_entropy' }, optimizer: { type: 'adam', lr: 0.01 } };
    const tensors = { ...params, ...batch };
    const binary = await postSafetensors(base, '/v1/gradients', json, tensors);
    const reference = await viaJson('/v1/gradients', json, tensors);
    expect(binary.json.loss).toBe(reference.loss);
    expect(binary.json.timing.totalMs).toBeGreaterThan(0);
    for (const name of Object.keys(params).map((k) => k.slice('params/'.length))) {
      expect(bytes(binary.tensors[`gradients/${name}`]!), name).toBe(reference.gradients[name].base64);
      expect(bytes(binary.tensors[`params/${name}`]!), name).toBe(reference.params[name].base64);
      expect(binary.tensors[`gradients/${name}`]!.dtype).toBe('F32');
    }
    // the state goes back as tensors, named as the request names them, its steps in the JSON
    const { tensors: state, state: steps } = nextOptimizerState(binary);
    expect(Object.keys(state)).toContain('optimizer/state/state/layers.0.weight/exp_avg_sq');
    expect(steps?.step).toBe(1);
    const next = { ...Object.fromEntries(Object.entries(binary.tensors).filter(([k]) => k.startsWith('params/'))), ...batch, ...state };
    const second = await postSafetensors(base, '/v1/gradients', { ...json, optimizer: { type: 'adam', lr: 0.01, state: steps } }, next);
    const secondJson = await viaJson('/v1/gradients', { ...json, optimizer: { type: 'adam', lr: 0.01, state: reference.optimizerState } }, next);
    expect(second.json.optimizerState?.step).toBe(2);
    expect(bytes(second.tensors['params/layers.1.weight']!)).toBe(secondJson.params['layers.1.weight'].base64);
  });

  it('an answer of megabytes, more than the socket takes at once, arrives whole, twice on one connection', async () => {
    const big = { type: 'mlp' as const, inputSize: 1024, layers: [{ units: 1024, activation: 'tanh' as const }, { units: 512 }] };
    const tensors: Record<string, Tensor> = {
      'params/layers.0.weight': f32([1024, 1024], uniform(1024 * 1024, 0.03)),
      'params/layers.0.bias': f32([1024], uniform(1024, 0.03)),
      'params/layers.1.weight': f32([512, 1024], uniform(512 * 1024, 0.03)),
      'params/layers.1.bias': f32([512], uniform(512, 0.03)),
      inputs: f32([4, 1024], uniform(4 * 1024, 1)),
      targets: f32([4, 512], uniform(4 * 512, 1)),
    };
    const json: RequestMetadata<'/v1/gradients'> = { model: big, loss: { type: 'mse' } };
    const reference = await viaJson('/v1/gradients', json, tensors);
    for (let i = 0; i < 2; i++) {
      const binary = await postSafetensors(base, '/v1/gradients', json, tensors);
      expect(binary.json.loss).toBe(reference.loss);
      for (const name of ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']) {
        expect(bytes(binary.tensors[`gradients/${name}`]!) === reference.gradients[name].base64, name).toBe(true);
      }
    }
  });

  it('/v1/forward in float64: the outputs', async () => {
    const tensors = { ...params, inputs: f64([5, 12], batch.inputs.data as Float32Array) };
    const r = await postSafetensors(base, '/v1/forward', { model, options: { dtype: 'float64' } }, tensors);
    expect(r.tensors.outputs!.dtype).toBe('F64');
    expect(r.tensors.outputs!.shape).toEqual([5, 3]);
    const reference = await viaJson('/v1/forward', { model, options: { dtype: 'float64' } }, tensors);
    expect(bytes(r.tensors.outputs!)).toBe(reference.outputs.base64);
  });

  it('throws the problem the server answers, naming the tensor at fault', async () => {
    const wrong = { ...params, ...batch, 'params/layers.0.weight': f32([12, 8], uniform(96, 0.3)) };
    const err = await postSafetensors(base, '/v1/gradients', { model, loss: { type: 'cross_entropy' } }, wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).status).toBe(422);
    expect(JSON.stringify((err as ProblemError).problem)).toMatch(/layers\.0\.weight/);
  });

  it('is typed from openapi.json', () => {
    // @ts-expect-error: not a loss the contract knows
    const bad: RequestMetadata<'/v1/gradients'> = { model, loss: { type: 'hinge' } };
    expect(bad).toBeDefined();
  });
});
