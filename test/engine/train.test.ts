import { describe, expect, it } from 'vitest';
import type { GradientsJob, TrainStep } from '../../src/engine/api.js';
import { gradients, step, train } from '../../src/engine/index.js';
import { expectClose, rand, t64 } from '../helpers/op-check.js';
import { LIMITS, options } from './helpers.js';

// y = 2·x₀ − x₁ + 0.5 on 16 points: a linear layer can fit it exactly
const X = rand([16, 2], 21);
const Y = t64([16, 1], (i) => 2 * X.data[2 * i]! - X.data[2 * i + 1]! + 0.5);

function regression(over: Partial<GradientsJob> = {}): GradientsJob {
  return {
    model: { type: 'mlp', inputSize: 2, layers: [{ units: 1, activation: 'identity' }], bias: true, norm: 'none', residual: false },
    params: {},
    inputs: X,
    loss: { type: 'mse', reduction: 'mean' },
    targets: Y,
    optimizer: { config: { type: 'sgd', lr: 0.3 } },
    options: options(),
    ...over,
  };
}

describe('train', () => {
  it('decreases the loss of a tiny regression problem, streaming each step', () => {
    const seen: TrainStep[] = [];
    const r = train(regression(), { steps: 60 }, LIMITS, (s) => seen.push(s));
    expect(r.losses).toHaveLength(60);
    expect(seen.map((s) => s.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(seen.map((s) => s.loss)).toEqual(r.losses);
    for (let i = 1; i < r.losses.length; i++) expect(r.losses[i]!).toBeLessThan(r.losses[i - 1]!);
    expect(r.losses.at(-1)!).toBeLessThan(1e-3 * r.losses[0]!);
    expectClose(r.params['layers.0.weight']!, [2, -1], 0.05);
    expect(r.optimizerState.step).toBe(60);
  });

  it('takes minibatches; a shuffle seed makes the run reproducible and changes the batches', () => {
    const a = train(regression(), { steps: 12, batchSize: 5, shuffleSeed: 3 }, LIMITS);
    const b = train(regression(), { steps: 12, batchSize: 5, shuffleSeed: 3 }, LIMITS);
    const c = train(regression(), { steps: 12, batchSize: 5, shuffleSeed: 4 }, LIMITS);
    const d = train(regression(), { steps: 12, batchSize: 5 }, LIMITS);
    expect(a.losses).toEqual(b.losses);
    expect(a.losses).not.toEqual(c.losses);
    expect(a.losses).not.toEqual(d.losses);
  });

  it('matches one gradients+step call per step without shuffling (batches in order, last one short)', () => {
    const r = train(regression(), { steps: 4, batchSize: 6 }, LIMITS);
    let params = {};
    let state;
    const rows = [[0, 6], [6, 12], [12, 16], [0, 6]] as const;
    const slice = (t: typeof X, [a, b]: readonly [number, number]) => ({ shape: [b - a, t.shape[1]!], data: t.data.slice(a * t.shape[1]!, b * t.shape[1]!) });
    for (const [k, range] of rows.entries()) {
      const g = gradients(regression({ params, inputs: slice(X, range), targets: slice(Y, range), optimizer: { config: { type: 'sgd', lr: 0.3 }, state } }), LIMITS);
      expect(g.loss).toBe(r.losses[k]);
      params = g.params!;
      state = g.optimizerState;
    }
  });

  it('round-trips the optimizer state: two calls equal two steps', () => {
    const adam = { type: 'adam', lr: 0.05 };
    const two = train(regression({ optimizer: { config: adam } }), { steps: 2 }, LIMITS);
    const first = gradients(regression({ optimizer: { config: adam } }), LIMITS);
    expect(first.optimizerState!.step).toBe(1);
    expect(Object.keys(first.optimizerState!.state['layers.0.weight']!).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'step']);
    const second = gradients(regression({ params: first.params!, optimizer: { config: adam, state: first.optimizerState! } }), LIMITS);
    for (const name of Object.keys(two.params)) expectClose(second.params![name]!, Array.from(two.params[name]!.data), 1e-15);
    expect(second.optimizerState!.step).toBe(2);

    // the same through step(): gradients computed elsewhere
    const s1 = step({ params: first.params!, gradients: second.gradients, optimizer: { config: adam, state: first.optimizerState! } });
    for (const name of Object.keys(two.params)) expectClose(s1.params[name]!, Array.from(two.params[name]!.data), 1e-15);
  });

  it('refuses to train without an optimizer', () => {
    expect(() => train(regression({ optimizer: undefined }), { steps: 1 }, LIMITS)).toThrow(expect.objectContaining({ path: ['optimizer'] }));
  });
});
