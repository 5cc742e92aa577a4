import { describe, expect, it } from 'vitest';
import { reciprocal } from '../../../src/engine/ops/reciprocal.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('reciprocal', () => {
  it('takes 1/x, +inf at 0', () => {
    expectUnary(reciprocal, [-4, 0.5, 3], [-0.25, 2, 1 / 3]);
    expect(reciprocal.forward([t64([1], [0])], {}).data[0]).toBe(Infinity);
  });

  it('keeps the shape', () => {
    expectSameShape(reciprocal);
  });

  it('has derivative −1/x² (−inf at 0, as PyTorch), matching finite differences away from 0', () => {
    expectSame(localDerivative(reciprocal, 2), -0.25);
    expectSame(localDerivative(reciprocal, -0.5), -4);
    expectSame(localDerivative(reciprocal, 0), -Infinity);
    checkVjp(reciprocal, [t64([3], [1, -0.5, 4])]);
    checkVjp(reciprocal, [rand([2, 3], 1, 0.5, 3)]);
  });
});
