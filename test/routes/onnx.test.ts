import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp } from './helpers.js';

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
const base64 = (name: string) => readFileSync(new URL(`${name}.onnx`, dir)).toString('base64');

function request(name: string, dtype: 'float32' | 'float64') {
  const f = fixture(name);
  return {
    model: { type: 'onnx', bytes: base64(name) },
    inputs: f.inputs,
    targets: f.targets,
    loss: f.loss,
    options: { dtype, encoding: 'flat', returnOutputs: true },
  };
}

/** max |a − b| / max(|b|, floor) over the elements */
function relErr(a: number[], b: number[], floor = 1e-3): number {
  expect(a.length).toBe(b.length);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(Math.abs(b[i]!), floor)));
}

describe.each(['mlp', 'block'])('the exported %s', (name) => {
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
