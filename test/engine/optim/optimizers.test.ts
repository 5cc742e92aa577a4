import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../src/engine/errors.js';
import { step, type OptimizerState } from '../../../src/engine/optim/index.js';
import { tensor, type Tensor } from '../../../src/engine/tensor.js';
import { expectClose, t64 } from '../../helpers/op-check.js';

const one = (v: number) => ({ p: t64([1], [v]) });
const g1 = (v: number) => ({ p: t64([1], [v]) });
const p0 = (out: { params: Record<string, Tensor> }) => out.params.p!.data[0]!;

function specError(f: () => unknown): SpecError {
  try {
    f();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('hand-derived updates', () => {
  it('SGD momentum: the first buffer is the gradient itself (no dampening), then momentum·buf + (1 − dampening)·g', () => {
    const cfg = { type: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.5 } as const;
    const a = step(cfg, one(1), g1(2));
    expect(a.state.state.p!.momentum_buffer).toEqual(t64([1], [2]));
    expect(p0(a)).toBeCloseTo(0.8, 15);
    const b = step(cfg, a.params, g1(4), a.state);
    // buf = 0.9·2 + 0.5·4 = 3.8; p = 0.8 − 0.38
    expectClose(b.state.state.p!.momentum_buffer as Tensor, [3.8], 1e-15);
    expect(p0(b)).toBeCloseTo(0.42, 15);
  });

  it('SGD Nesterov steps along g + momentum·buf', () => {
    const a = step({ type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, one(1), g1(2));
    expect(p0(a)).toBeCloseTo(1 - 0.1 * (2 + 0.9 * 2), 15);
  });

  it('SGD weight decay adds weightDecay·p to the gradient', () => {
    expect(p0(step({ type: 'sgd', lr: 0.5, weightDecay: 0.2 }, one(3), g1(1)))).toBeCloseTo(3 - 0.5 * (1 + 0.6), 15);
  });

  it("Adam's first step is lr·g / (|g| + eps), whatever the betas", () => {
    for (const betas of [[0.9, 0.999], [0.5, 0.6]] as [number, number][]) {
      const out = step({ type: 'adam', lr: 0.01, betas }, { p: t64([3], [1, 1, 1]) }, { p: t64([3], [4, -0.5, 0]) });
      expectClose(out.params.p!, [1 - (0.01 * 4) / (4 + 1e-8), 1 + (0.01 * 0.5) / (0.5 + 1e-8), 1], 1e-14);
      expect(out.state.state.p!.step).toBe(1);
    }
  });

  it("Adam's bias-corrected second step, written out", () => {
    const [b1, b2, lr, eps] = [0.9, 0.999, 0.1, 1e-8];
    const a = step({ type: 'adam', lr }, one(0), g1(1));
    const b = step({ type: 'adam', lr }, a.params, g1(3), a.state);
    const m = b1 * (1 - b1) * 1 + (1 - b1) * 3;
    const v = b2 * (1 - b2) * 1 + (1 - b2) * 9;
    const expected = p0(a) - (lr / (1 - b1 ** 2)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** 2) + eps));
    expect(p0(b)).toBeCloseTo(expected, 14);
  });

  it('AdamW shrinks p by 1 − lr·wd before the update, and the moments never see the decay', () => {
    const out = step({ type: 'adamw', lr: 0.1, weightDecay: 0.5 }, one(2), g1(0));
    expect(p0(out)).toBe(2 * (1 - 0.05));
    expect(out.state.state.p!.exp_avg).toEqual(t64([1], [0]));
  });

  it('AMSGrad keeps the running maximum of exp_avg_sq', () => {
    const cfg = { type: 'adam', amsgrad: true } as const;
    const a = step(cfg, one(0), g1(10));
    const b = step(cfg, a.params, g1(0), a.state);
    expect((b.state.state.p!.max_exp_avg_sq as Tensor).data[0]).toBe((a.state.state.p!.exp_avg_sq as Tensor).data[0]);
    expect((b.state.state.p!.exp_avg_sq as Tensor).data[0]).toBeLessThan((b.state.state.p!.max_exp_avg_sq as Tensor).data[0]!);
  });

  it("RMSprop's first step is lr·g / (√(1 − alpha)·|g| + eps)", () => {
    const out = step({ type: 'rmsprop', lr: 0.01 }, one(1), g1(-3));
    expect(p0(out)).toBeCloseTo(1 + (0.01 * 3) / (Math.sqrt(0.01) * 3 + 1e-8), 14);
    expectClose(out.state.state.p!.square_avg as Tensor, [0.09], 1e-15);
  });

  it('centered RMSprop divides by the root of the variance estimate', () => {
    const a = step({ type: 'rmsprop', lr: 1, alpha: 0.5, centered: true }, one(0), g1(2));
    // square_avg = 2, grad_avg = 1: avg = √(2 − 1) + 1e-8
    expect(p0(a)).toBeCloseTo(-2 / (1 + 1e-8), 14);
  });

  it('Adagrad decays the learning rate as lr / (1 + (t − 1)·lrDecay) and starts from the initial accumulator', () => {
    const cfg = { type: 'adagrad', lr: 1, lrDecay: 1, initialAccumulatorValue: 3 } as const;
    const a = step(cfg, one(0), g1(1));
    expect(p0(a)).toBeCloseTo(-1 / (2 + 1e-10), 14);
    const b = step(cfg, a.params, g1(1), a.state);
    expect(p0(b)).toBeCloseTo(p0(a) - 0.5 / (Math.sqrt(5) + 1e-10), 14);
    expect(b.state.state.p!.step).toBe(2);
  });
});

describe('step', () => {
  it('never mutates its inputs', () => {
    const params = { w: t64([2], [1, 2]) };
    const grads = { w: t64([2], [0.5, -0.5]) };
    const a = step({ type: 'adam' }, params, grads);
    const snapshot = JSON.stringify([params, grads, a.state], (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));
    const b = step({ type: 'adam' }, params, grads, a.state);
    expect(JSON.stringify([params, grads, a.state], (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))).toBe(snapshot);
    expect(b.params.w!.data).not.toBe(params.w.data);
    expect((b.state.state.w!.exp_avg as Tensor).data).not.toBe((a.state.state.w!.exp_avg as Tensor).data);
  });

  it('keeps float32 params and buffers in float32, casting state sent in another dtype', () => {
    const p = { w: tensor([2], [1, 2], 'float32') };
    const g = { w: tensor([2], [0.1, 0.2], 'float32') };
    const a = step({ type: 'rmsprop', momentum: 0.5 }, p, g);
    expect(a.params.w!.data).toBeInstanceOf(Float32Array);
    const sent: OptimizerState = {
      step: 1,
      state: { w: { step: 1, square_avg: t64([2], [1e-4, 4e-4]), momentum_buffer: t64([2], [1, 1]) } },
    };
    const b = step({ type: 'rmsprop', momentum: 0.5 }, p, g, sent);
    expect((b.state.state.w!.square_avg as Tensor).data).toBeInstanceOf(Float32Array);
  });

  it('starts fresh without state, and counts steps globally and per parameter where torch does', () => {
    const a = step({ type: 'sgd', lr: 0.1 }, one(1), g1(1));
    expect(a.state).toEqual({ step: 1, state: { p: {} } });
    const b = step({ type: 'sgd', lr: 0.1 }, a.params, g1(1), a.state);
    expect(b.state.step).toBe(2);
    const c = step({ type: 'adagrad' }, one(1), g1(1), { step: 7, state: { p: { step: 7, sum: t64([1], [1]) } } });
    expect(c.state.step).toBe(8);
    expect(c.state.state.p!.step).toBe(8);
  });

  it('accepts a per-parameter step sent as a scalar tensor', () => {
    const s = { step: 2, state: { p: { step: t64([], [2]), sum: t64([1], [1]) } } };
    expect(step({ type: 'adagrad', lrDecay: 1 }, one(0), g1(1), s).state.state.p!.step).toBe(3);
  });

  it('carries a known buffer the configuration no longer uses, as torch keeps it', () => {
    const a = step({ type: 'adam', amsgrad: true }, one(0), g1(1));
    const b = step({ type: 'adam' }, a.params, g1(1), a.state);
    expect(b.state.state.p!.max_exp_avg_sq).toEqual(a.state.state.p!.max_exp_avg_sq);
  });

  it('reports a missing buffer after step 0 with its request path', () => {
    const a = step({ type: 'adam' }, { w1: t64([2], [1, 2]) }, { w1: t64([2], [1, 1]) });
    const { exp_avg: _dropped, ...rest } = a.state.state.w1!;
    const e = specError(() => step({ type: 'adam' }, a.params, { w1: t64([2], [1, 1]) }, { step: 1, state: { w1: rest } }));
    expect(e.path).toEqual(['optimizer', 'state', 'state', 'w1', 'exp_avg']);
    const none = specError(() => step({ type: 'sgd', lr: 1, momentum: 0.9 }, one(1), g1(1), { step: 3, state: {} }));
    expect(none.path).toEqual(['optimizer', 'state', 'state', 'p', 'momentum_buffer']);
    // without momentum SGD keeps nothing, so an empty state is fine at any step
    expect(() => step({ type: 'sgd', lr: 1 }, one(1), g1(1), { step: 3, state: {} })).not.toThrow();
  });

  it('refuses a negative element in a buffer of squared gradients, whose square root would make the params NaN', () => {
    const e = specError(() =>
      step({ type: 'adam' }, { w1: t64([2], [1, 2]) }, { w1: t64([2], [1, 1]) }, { step: 1, state: { w1: { step: 1, exp_avg: t64([2], [0, 0]), exp_avg_sq: t64([2], [0.5, -0.1]) } } }),
    );
    expect(e.issues).toEqual([
      {
        path: ['optimizer', 'state', 'state', 'w1', 'exp_avg_sq'],
        message: 'holds squared gradients, so no negative element; element 1 is -0.1: send back the optimizerState of the previous response',
      },
    ]);
    const amsgrad = { step: 1, exp_avg: t64([1], [0]), exp_avg_sq: t64([1], [1]), max_exp_avg_sq: t64([1], [-1]) };
    expect(specError(() => step({ type: 'adamw', amsgrad: true }, one(1), g1(1), { step: 1, state: { p: amsgrad } })).path.at(-1)).toBe('max_exp_avg_sq');
    expect(specError(() => step({ type: 'rmsprop' }, one(1), g1(1), { step: 1, state: { p: { step: 1, square_avg: t64([1], [-2]) } } })).path.at(-1)).toBe('square_avg');
    expect(specError(() => step({ type: 'adagrad' }, one(1), g1(1), { step: 1, state: { p: { step: 1, sum: t64([1], [-2]) } } })).path.at(-1)).toBe('sum');
    // a first moment may be negative
    expect(() => step({ type: 'adam' }, one(1), g1(1), { step: 1, state: { p: { step: 1, exp_avg: t64([1], [-1]), exp_avg_sq: t64([1], [1]) } } })).not.toThrow();
  });

  it('refuses a parameter\'s step count that is not the state\'s: no answer holds such a state', () => {
    const state = (perParam: number) => ({ step: 3, state: { p: { step: perParam, exp_avg: t64([1], [0.1]), exp_avg_sq: t64([1], [0.01]) } } });
    const e = specError(() => step({ type: 'adam' }, one(1), g1(1), state(1)));
    expect(e.issues).toEqual([
      { path: ['optimizer', 'state', 'state', 'p', 'step'], message: '1 steps, where the state\'s step says 3: send back the optimizerState of the previous response' },
    ]);
    expect(step({ type: 'adam' }, one(1), g1(1), state(3)).state.state.p!.step).toBe(4);
  });

  it('reports wrong shapes, unknown buffers, bad steps and stray names, all at once', () => {
    const e = specError(() =>
      step(
        { type: 'adam' },
        { w1: t64([2], [1, 2]), b: t64([1], [0]) },
        { w1: t64([3], [1, 1, 1]), extra: t64([1], [0]) },
        {
          step: 1,
          state: {
            w1: { step: 1, exp_avg: t64([2, 1], [0, 0]), exp_avg_sq: t64([2], [0, 0]), momentum_buffer: t64([2], [0, 0]) },
            ghost: { step: 1 },
          },
        },
      ),
    );
    const paths = e.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'gradients.extra',
        'gradients.w1',
        'gradients.b',
        'optimizer.state.state.ghost',
        'optimizer.state.state.w1.exp_avg',
        'optimizer.state.state.w1.momentum_buffer',
        'optimizer.state.state.b.step',
      ]),
    );
    expect(e.issues.find((i) => i.path.join('.') === 'optimizer.state.state.w1.exp_avg')!.message).toMatch(/\[2, 1\].*\[2\]/);
    expect(specError(() => step({ type: 'adagrad' }, one(1), g1(1), { step: 1, state: { p: { step: -1, sum: t64([1], [0]) } } })).path).toEqual([
      'optimizer', 'state', 'state', 'p', 'step',
    ]);
    expect(specError(() => step({ type: 'adagrad' }, one(1), g1(1), { step: 1.5, state: {} })).path).toEqual(['optimizer', 'state', 'step']);
  });

  it('validates the configuration like torch, with paths under optimizer', () => {
    const bad: [unknown, string][] = [
      [{ type: 'sgd', lr: 0.1, nesterov: true }, 'optimizer.nesterov'],
      [{ type: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }, 'optimizer.nesterov'],
      [{ type: 'sgd' }, 'optimizer.lr'],
      [{ type: 'sgd', lr: -1 }, 'optimizer.lr'],
      [{ type: 'sgd', lr: 1, momentum: -0.1 }, 'optimizer.momentum'],
      [{ type: 'adam', betas: [0.9, 1] }, 'optimizer.betas.1'],
      [{ type: 'adam', betas: [-0.1, 0.9] }, 'optimizer.betas.0'],
      [{ type: 'adam', eps: -1e-8 }, 'optimizer.eps'],
      [{ type: 'adamw', weight_decay: 0.1 }, 'optimizer'],
      [{ type: 'rmsprop', alpha: -1 }, 'optimizer.alpha'],
      [{ type: 'adagrad', initialAccumulatorValue: -1 }, 'optimizer.initialAccumulatorValue'],
      [{ type: 'lbfgs' }, 'optimizer.type'],
    ];
    for (const [cfg, path] of bad) {
      const e = specError(() => step(cfg as never, one(1), g1(1)));
      expect(e.path.join('.'), JSON.stringify(cfg)).toBe(path);
    }
  });
});
