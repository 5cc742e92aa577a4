import { describe, expect, it } from 'vitest';
import { clipGradNorm } from '../../../src/engine/optim/index.js';
import { tensor } from '../../../src/engine/tensor.js';
import { expectClose, t64 } from '../../helpers/op-check.js';

describe('clipGradNorm', () => {
  it('scales by maxNorm / (norm + 1e-6) when that is below 1', () => {
    const grads = { a: t64([2], [3, 0]), b: t64([1], [-4]) };
    const out = clipGradNorm(grads, 1);
    expect(out.totalNorm).toBe(5);
    expect(out.clipped).toBe(true);
    const c = 1 / (5 + 1e-6);
    expectClose(out.grads.a!, [3 * c, 0], 1e-15);
    expectClose(out.grads.b!, [-4 * c], 1e-15);
    expect(Array.from(grads.a.data)).toEqual([3, 0]);
  });

  it('leaves gradients alone when the coefficient is at least 1', () => {
    const grads = { a: t64([2], [3, 4]) };
    for (const maxNorm of [5 + 1e-6, 10]) {
      const out = clipGradNorm(grads, maxNorm);
      expect(out.clipped).toBe(false);
      expect(out.grads.a).toBe(grads.a);
    }
    // NOTE: at norm = maxNorm the 1e-6 still makes the coefficient just below 1, so torch scales
    const atMax = clipGradNorm(grads, 5);
    expect(atMax.clipped).toBe(true);
    expectClose(atMax.grads.a!, [(3 * 5) / (5 + 1e-6), (4 * 5) / (5 + 1e-6)], 1e-15);
  });

  it('computes the norm of the per-tensor norms for other p, and the max for Infinity', () => {
    const grads = { a: t64([2], [1, -2]), b: t64([2], [3, 0]) };
    expect(clipGradNorm(grads, 100, 1).totalNorm).toBe(6);
    expect(clipGradNorm(grads, 100, Infinity).totalNorm).toBe(3);
    expect(clipGradNorm(grads, 100, 3).totalNorm).toBeCloseTo(Math.cbrt(1 + 8 + 27), 14);
  });

  it('keeps float32 gradients in float32', () => {
    const out = clipGradNorm({ a: tensor([2], [30, 40], 'float32') }, 1);
    expect(out.grads.a!.data).toBeInstanceOf(Float32Array);
    expectClose(out.grads.a!, [Math.fround(30 / (50 + 1e-6)), Math.fround(40 / (50 + 1e-6))], 1e-15);
  });

  it('returns a zero norm for no gradients, and propagates a non-finite norm as torch does', () => {
    expect(clipGradNorm({}, 1)).toEqual({ grads: {}, totalNorm: 0, clipped: false });
    const out = clipGradNorm({ a: t64([2], [Infinity, 1]) }, 1);
    expect(out.totalNorm).toBe(Infinity);
    expect(Number.isNaN(out.grads.a!.data[0])).toBe(true); // inf · 0
    expect(out.grads.a!.data[1]).toBe(0);
  });

  it('rejects a negative or non-finite maxNorm and a non-positive normType', () => {
    expect(() => clipGradNorm({}, -1)).toThrow(RangeError);
    expect(() => clipGradNorm({}, Number.NaN)).toThrow(RangeError);
    expect(() => clipGradNorm({}, 1, 0)).toThrow(RangeError);
  });
});
