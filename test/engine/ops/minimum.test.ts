import { describe, expect, it } from 'vitest';
import { minimum } from '../../../src/engine/ops/minimum.js';
import { expectBroadcastShape, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('minimum', () => {
  it('takes the smaller operand elementwise with broadcasting', () => {
    const out = minimum.forward([t64([2, 2], [1, 2, -3, 4]), t64([2], [0, 3])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [0, 2, -3, 3]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(minimum);
  });

  it('routes the gradient to the smaller operand and splits it half/half on a tie, as PyTorch', () => {
    expect(localPartials(minimum, 2, 1)).toEqual([0, 1]);
    expect(localPartials(minimum, -2, 1)).toEqual([1, 0]);
    expect(localPartials(minimum, 0, 0)).toEqual([0.5, 0.5]);
    expect(localPartials(minimum, 4, 4)).toEqual([0.5, 0.5]);
  });

  it('has a VJP matching finite differences on both sides of a tie, at ties, and across broadcasting', () => {
    checkVjp(minimum, [t64([4], [0.999, 1.001, -2, 3]), t64([4], [1, 1, 0, -3])]);
    checkVjp(minimum, [t64([3], [0, 1, -2]), t64([3], [0, 1, -2])]);
    checkVjp(minimum, [rand([2, 3], 1), rand([3], 2)]);
    checkVjp(minimum, [rand([4, 1], 3), rand([1, 5], 4)]);
  });
});
