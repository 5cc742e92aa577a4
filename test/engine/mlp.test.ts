import { describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { SpecError } from '../../src/engine/errors.js';
import { forward, gradients } from '../../src/engine/index.js';
import type { MlpSpec } from '../../src/engine/spec.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { expectClose, rand, t64 } from '../helpers/op-check.js';
import { LIMITS, options } from './helpers.js';

function mlp(over: Partial<MlpSpec> = {}): MlpSpec {
  return { type: 'mlp', inputSize: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 2, activation: 'identity' }], bias: true, norm: 'none', residual: false, ...over };
}

function job(model: MlpSpec, over: Partial<GradientsJob> = {}): GradientsJob {
  return { model, params: {}, inputs: rand([5, model.inputSize], 11), options: options(), ...over };
}

/** Central differences of the loss through the public forward() — independent of backprop. */
function numericGrad(j: GradientsJob, params: Record<string, Tensor>, name: string, eps = 1e-6): number[] {
  const p = params[name]!;
  return Array.from(p.data, (_, i) => {
    const saved = p.data[i]!;
    p.data[i] = saved + eps;
    const plus = forward({ ...j, params }, LIMITS).loss!;
    p.data[i] = saved - eps;
    const minus = forward({ ...j, params }, LIMITS).loss!;
    p.data[i] = saved;
    return (plus - minus) / (2 * eps);
  });
}

describe('MLP expansion', () => {
  it('names and shapes its parameters as nn.Linear (+ LayerNorm on hidden layers)', () => {
    const r = gradients(job(mlp({ norm: 'layernorm' }), { loss: { type: 'mse', reduction: 'mean' }, targets: rand([5, 2], 3) }), LIMITS);
    const shapes = Object.fromEntries(Object.entries(r.params!).map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'layers.0.weight': [4, 3],
      'layers.0.bias': [4],
      'layers.0.norm.weight': [4],
      'layers.0.norm.bias': [4],
      'layers.1.weight': [2, 4],
      'layers.1.bias': [2],
    });
    expect(Object.keys(r.gradients)).toEqual(Object.keys(r.params!));
    expect(Array.from(r.params!['layers.0.norm.weight']!.data)).toEqual([1, 1, 1, 1]);
    expect(Array.from(r.params!['layers.0.norm.bias']!.data)).toEqual([0, 0, 0, 0]);
  });

  it('initializes deterministically: U(±1/√fan_in) by default, same seed same values, streams per parameter', () => {
    const model = mlp({ bias: true });
    const targets = { loss: { type: 'mse' as const, reduction: 'mean' as const }, targets: rand([5, 2], 3) };
    const a = gradients(job(model, targets), LIMITS).params!;
    const b = gradients(job(model, targets), LIMITS).params!;
    const c = gradients(job({ ...model, init: { scheme: 'default', seed: 1 } }, targets), LIMITS).params!;
    for (const name of Object.keys(a)) expect(Array.from(a[name]!.data)).toEqual(Array.from(b[name]!.data));
    expect(Array.from(a['layers.0.weight']!.data)).not.toEqual(Array.from(c['layers.0.weight']!.data));
    for (const [name, fanIn] of [['layers.0.weight', 3], ['layers.0.bias', 3], ['layers.1.weight', 4], ['layers.1.bias', 4]] as const) {
      for (const v of a[name]!.data) expect(Math.abs(v)).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    }
    // each parameter draws from its own stream: weight and bias of one layer are not the same numbers
    expect(a['layers.0.bias']!.data[0]! * Math.sqrt(3)).not.toBeCloseTo(a['layers.0.weight']!.data[0]! * Math.sqrt(3), 12);
  });

  it('computes z = x·Wᵀ + b, the activation and a residual add where widths match', () => {
    const model = mlp({ inputSize: 2, layers: [{ units: 2, activation: 'relu' }, { units: 1, activation: 'identity' }], residual: true });
    const params = {
      'layers.0.weight': t64([2, 2], [1, -1, 0.5, 2]),
      'layers.0.bias': t64([2], [0, -3]),
      'layers.1.weight': t64([1, 2], [2, -1]),
      'layers.1.bias': t64([1], [0.25]),
    };
    const x = t64([1, 2], [1, 2]);
    const out = forward(job(model, { params, inputs: x }), LIMITS).outputs;
    // layer 0: z = [1·1 − 1·2, 0.5·1 + 2·2 − 3] = [−1, 1.5]; relu → [0, 1.5]; + x → [1, 3.5]
    // layer 1: 2·1 − 1·3.5 + 0.25 = −1.25 (widths 2 → 1 differ: no residual)
    expectClose(out, [-1.25]);
  });

  it('passes activation attributes to the op', () => {
    const model = mlp({ inputSize: 1, layers: [{ units: 1, activation: { type: 'leaky_relu', negativeSlope: 0.2 } }] });
    const params = { 'layers.0.weight': t64([1, 1], [1]), 'layers.0.bias': t64([1], [0]) };
    expectClose(forward(job(model, { params, inputs: t64([2, 1], [-5, 3]) }), LIMITS).outputs, [-1, 3]);
    const bad = mlp({ layers: [{ units: 1, activation: { type: 'relu', slope: 2 } }] });
    expect(() => forward(job(bad), LIMITS)).toThrow(expect.objectContaining({ path: ['model', 'layers', 0, 'activation', 'slope'] }));
  });

  it('matches finite differences through layernorm, residuals and a loss (float64)', () => {
    const model = mlp({
      inputSize: 4,
      layers: [{ units: 4, activation: 'gelu' }, { units: 4, activation: 'tanh' }, { units: 3, activation: 'identity' }],
      norm: 'layernorm',
      residual: true,
      init: { scheme: 'default', seed: 3 },
    });
    const j = job(model, { inputs: rand([6, 4], 5), loss: { type: 'cross_entropy', reduction: 'mean' }, targets: t64([6], [0, 1, 2, 2, 1, 0]) });
    const r = gradients(j, LIMITS);
    // perturb the norm parameters off their init (ones/zeros) so their gradients are generic
    const params = Object.fromEntries(Object.entries(r.params!).map(([k, v]) => [k, { shape: v.shape, data: Float64Array.from(v.data, (x, i) => x + 0.1 * Math.sin(i + k.length)) }]));
    const g = gradients({ ...j, params }, LIMITS).gradients;
    for (const name of Object.keys(params)) expectClose(g[name]!, numericGrad(j, params, name), 1e-6);
  });

  it('checks inputs and given parameters against the model', () => {
    expect(() => forward(job(mlp(), { inputs: rand([5, 4], 1) }), LIMITS)).toThrow(expect.objectContaining({ path: ['inputs'] }));
    expect(() => forward(job(mlp(), { inputs: { x: rand([5, 3], 1) } }), LIMITS)).toThrow(expect.objectContaining({ path: ['inputs'] }));
    const wrong = () => forward(job(mlp(), { params: { 'layers.0.weight': rand([3, 4], 1), 'layers.9.weight': rand([1], 2) } }), LIMITS);
    expect(wrong).toThrow(SpecError);
    try {
      wrong();
    } catch (err) {
      expect((err as SpecError).issues.map((i) => i.path)).toEqual([
        ['params', 'layers.0.weight'],
        ['params', 'layers.9.weight'],
      ]);
    }
  });

  it('uses given parameters as they are and only initializes the missing ones', () => {
    const W = rand([4, 3], 9);
    const r = gradients(job(mlp(), { params: { 'layers.0.weight': W }, loss: { type: 'mse', reduction: 'sum' }, targets: rand([5, 2], 3) }), LIMITS);
    expect(Object.keys(r.params!)).toEqual(['layers.0.bias', 'layers.1.weight', 'layers.1.bias']);
  });

  it('refuses an MLP that expands past the node limit', () => {
    const model = mlp({ layers: Array.from({ length: 20 }, () => ({ units: 3, activation: 'relu' as const })) });
    expect(() => forward(job(model), { maxNodes: 30, maxElements: 1e6 })).toThrow(expect.objectContaining({ path: ['model', 'layers'] }));
  });
});
