import { describe, expect, it } from 'vitest';
import { clamp } from '../../../src/engine/ops/clamp.js';
import { checkKink, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('clamp', () => {
  it('clamps to [min, max], to either bound alone, and to max everywhere when min > max (as PyTorch)', () => {
    const xs = [-2, -1, 0, 0.5, 1, 3];
    expectUnary(clamp, xs, [-1, -1, 0, 0.5, 1, 1], { min: -1, max: 1 });
    expectUnary(clamp, xs, [0, 0, 0, 0.5, 1, 3], { min: 0 });
    expectUnary(clamp, xs, [-2, -1, 0, 0.5, 0.5, 0.5], { max: 0.5 });
    expectUnary(clamp, xs, [-1, -1, -1, -1, -1, -1], { min: 1, max: -1 });
  });

  it('needs at least one bound and no unknown attributes', () => {
    expect(() => clamp.parseAttrs({})).toThrow(/at least one/);
    expect(() => clamp.parseAttrs(undefined)).toThrow(/at least one/);
    expect(() => clamp.parseAttrs({ min: 0, lo: 1 })).toThrow();
    expect(() => clamp.parseAttrs({ min: 'a' })).toThrow();
    expect(clamp.parseAttrs({ max: 2 })).toEqual({ max: 2 });
  });

  it('keeps the shape', () => {
    expectSameShape(clamp, { min: 0 });
  });

  it('passes the gradient inside [min, max] and at the bounds themselves (PyTorch), 0 outside', () => {
    const attrs = { min: -1, max: 2 };
    expect([-3, -1, 0, 2, 5].map((x) => localDerivative(clamp, x, attrs))).toEqual([0, 1, 1, 1, 0]);
    checkKink(clamp, -1, 1, attrs);
    checkKink(clamp, 2, 1, attrs);
    checkKink(clamp, 0, 1, { min: 0 });
    checkKink(clamp, 0, 1, { max: 0 });
    checkVjp(clamp, [rand([3, 4], 1, -3, 3)], attrs);
    checkVjp(clamp, [t64([3], [0, -0.5, 0.5])], { min: -1, max: 1 });
  });

  it('has zero gradient everywhere when min > max, as PyTorch', () => {
    expect([-2, 0, 2].map((x) => localDerivative(clamp, x, { min: 1, max: -1 }))).toEqual([0, 0, 0]);
  });
});
