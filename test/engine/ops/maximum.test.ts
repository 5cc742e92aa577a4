import { describe, expect, it } from 'vitest';
import { maximum } from '../../../src/engine/ops/maximum.js';
import { expectBroadcastShape, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('maximum', () => {
  it('takes the larger operand elementwise with broadcasting', () => {
    const out = maximum.forward([t64([2, 2], [1, 2, -3, 4]), t64([2], [0, 3])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [1, 3, 0, 4]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(maximum);
  });

  it('routes the gradient to the larger operand and splits it half/half on a tie, as PyTorch', () => {
    expect(localPartials(maximum, 2, 1)).toEqual([1, 0]);
    expect(localPartials(maximum, -2, 1)).toEqual([0, 1]);
    expect(localPartials(maximum, 0, 0)).toEqual([0.5, 0.5]);
    expect(localPartials(maximum, -1.5, -1.5)).toEqual([0.5, 0.5]);
  });

  it('has a VJP matching finite differences on both sides of a tie, at ties, and across broadcasting', () => {
    checkVjp(maximum, [t64([4], [0.999, 1.001, -2, 3]), t64([4], [1, 1, 0, -3])]);
    // at an exact tie the central difference measures the mean of the one-sided slopes: ½ each
    checkVjp(maximum, [t64([3], [0, 1, -2]), t64([3], [0, 1, -2])]);
    checkVjp(maximum, [rand([2, 3], 1), rand([3], 2)]);
    checkVjp(maximum, [rand([4, 1], 3), rand([1, 5], 4)]);
  });
});
