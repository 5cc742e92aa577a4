import { describe, expect, it } from 'vitest';
import { exp } from '../../../src/engine/ops/exp.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('exp', () => {
  it('exponentiates', () => {
    expectUnary(exp, [-1, 0, 1, 2], [0.36787944117144233, 1, 2.718281828459045, 7.38905609893065]);
  });

  it('overflows to inf and underflows to 0, as PyTorch', () => {
    expect(Array.from(exp.forward([t64([2], [1000, -1000])], {}).data)).toEqual([Infinity, 0]);
  });

  it('keeps the shape', () => {
    expectSameShape(exp);
  });

  it('is its own derivative, matching finite differences', () => {
    expectSame(localDerivative(exp, 0), 1);
    expectSame(localDerivative(exp, 1), 2.718281828459045);
    checkVjp(exp, [t64([3], [0, -2, 1.5])]);
    checkVjp(exp, [rand([2, 3], 1, -3, 3)]);
  });
});
