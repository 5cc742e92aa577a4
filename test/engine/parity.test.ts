import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DecodedModel, GradientsJob, GradientsResult } from '../../src/engine/api.js';
import { ALL_OPS, gradients } from '../../src/engine/index.js';
import { LossSpecSchema, type MlpSpec, type Tensors } from '../../src/engine/spec.js';
import { ModelSpecSchema, OptionsSchema } from '../../src/wire/spec.js';
import type { DType, Tensor } from '../../src/engine/tensor.js';
import { decodeTensor } from '../../src/wire/tensor.js';
import { LIMITS } from './helpers.js';

// Whole computations against PyTorch, as micrograd's tests do: test/fixtures/parity/torch-parity.json
// holds requests written as a client sends them (graphs and MLPs) with torch's loss, output and
// gradients in float64; scripts/gen-torch-parity.py writes it (/usr/bin/python3 with python3-torch).

interface Flat {
  shape: number[];
  data: number[];
}

interface Case {
  name: string;
  /** also replayed in float32, against the same float64 values */
  float32: boolean;
  request: {
    model: unknown;
    params: Record<string, unknown>;
    inputs: unknown;
    targets?: unknown;
    loss?: unknown;
    outputGrad?: unknown;
    options: unknown;
  };
  expected: {
    loss?: number;
    outputs: Flat;
    gradients: Record<string, Flat>;
    inputGradients: Record<string, Flat>;
  };
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/parity/torch-parity.json', import.meta.url), 'utf8')) as {
  torch: string;
  cases: Case[];
};

const decodeMap = (m: Record<string, unknown>, dtype: DType, path: string[]): Tensors =>
  Object.fromEntries(Object.entries(m).map(([k, w]) => [k, decodeTensor(w, dtype, [...path, k])]));

/** The engine job the HTTP layer would build: schemas fill the defaults, tensors decoded in the request's dtype. */
function jobOf({ request }: Case, dtype?: DType): GradientsJob {
  const options = OptionsSchema.parse({ ...(request.options as object), ...(dtype ? { dtype } : {}) });
  const spec = ModelSpecSchema.parse(request.model);
  const model: DecodedModel =
    spec.type === 'graph' ? { ...spec, constants: decodeMap(spec.constants, options.dtype, ['model', 'constants']) } : (spec as MlpSpec);
  return {
    model,
    params: decodeMap(request.params, options.dtype, ['params']),
    inputs:
      spec.type === 'graph'
        ? decodeMap(request.inputs as Record<string, unknown>, options.dtype, ['inputs'])
        : decodeTensor(request.inputs, options.dtype, ['inputs']),
    ...(request.targets === undefined ? {} : { targets: decodeTensor(request.targets, options.dtype, ['targets']) }),
    ...(request.loss === undefined ? {} : { loss: LossSpecSchema.parse(request.loss) }),
    ...(request.outputGrad === undefined ? {} : { outputGrad: decodeTensor(request.outputGrad, options.dtype, ['outputGrad']) }),
    options,
  };
}

/**
 * Each element within `rtol` of torch's, relative to the larger of its own magnitude and the tensor's
 * largest: a gradient element that cancels to nearly 0 is judged on the tensor's scale, not its own.
 */
function expectTensor(what: string, actual: Tensor | undefined, expected: Flat, rtol: number): void {
  if (actual === undefined) throw new Error(`${what}: missing`);
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const scale = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const bad = expected.data.findIndex((e, i) => !(Math.abs(actual.data[i]! - e) <= rtol * Math.max(Math.abs(e), scale)));
  if (bad >= 0) {
    const [got, want] = [actual.data[bad]!, expected.data[bad]!];
    const err = Math.abs(got - want) / Math.max(Math.abs(want), scale);
    throw new Error(`${what}[${bad}]: got ${got}, torch ${want} (relative error ${err.toExponential(2)} > ${rtol})`);
  }
}

function expectNumber(what: string, actual: number | undefined, expected: number, rtol: number): void {
  if (actual === undefined) throw new Error(`${what}: missing`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
  if (!(err <= rtol)) throw new Error(`${what}: got ${actual}, torch ${expected} (relative error ${err.toExponential(2)} > ${rtol})`);
}

function expectParity(c: Case, r: GradientsResult, rtol: number): void {
  const { expected } = c;
  if (expected.loss === undefined) expect(r.loss, 'no loss with outputGrad').toBeUndefined();
  else expectNumber('loss', r.loss, expected.loss, rtol);
  expectTensor('outputs', r.outputs, expected.outputs, rtol);
  // every parameter, and no other
  expect(Object.keys(r.gradients).sort()).toEqual(Object.keys(expected.gradients).sort());
  for (const [name, g] of Object.entries(expected.gradients)) expectTensor(`gradients.${name}`, r.gradients[name], g, rtol);
  // torch has no gradient for class indices, so the fixture lists only the inputs it differentiates
  for (const [name, g] of Object.entries(expected.inputGradients)) {
    expectTensor(`inputGradients.${name}`, r.inputGradients?.[name], g, rtol);
  }
}

describe(`parity with PyTorch ${fixture.torch}, float64`, () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectParity(c, gradients(jobOf(c), LIMITS), 1e-10);
  });
});

describe(`parity with PyTorch ${fixture.torch}, float32 requests`, () => {
  const cases = fixture.cases.filter((c) => c.float32);
  it('covers a few cases', () => expect(cases.length).toBeGreaterThanOrEqual(5));
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = gradients(jobOf(c, 'float32'), LIMITS);
    expect(r.gradients[Object.keys(c.expected.gradients)[0]!]!.data).toBeInstanceOf(Float32Array);
    expectParity(c, r, 1e-4);
  });
});

describe('the parity fixture', () => {
  it('uses every op of the registry at least once', () => {
    const used = new Set<string>();
    for (const { request } of fixture.cases) {
      const model = request.model as {
        type: string;
        nodes?: { op: string }[];
        layers?: { activation?: unknown }[];
        norm?: string;
        residual?: boolean;
      };
      for (const node of model.nodes ?? []) used.add(node.op);
      for (const layer of model.layers ?? []) {
        const a = layer.activation ?? 'identity';
        used.add(typeof a === 'string' ? a : (a as { type: string }).type);
      }
      if (model.type === 'mlp') used.add('linear');
      if (model.norm === 'layernorm') used.add('layernorm');
      if (model.residual) used.add('add');
      if (request.loss) used.add(`${(request.loss as { type: string }).type}_loss`);
    }
    expect(ALL_OPS.map((op) => op.name).filter((name) => !used.has(name))).toEqual([]);
  });
});
