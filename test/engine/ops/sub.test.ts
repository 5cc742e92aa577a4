import { describe, expect, it } from 'vitest';
import { sub } from '../../../src/engine/ops/sub.js';
import { expectBroadcastShape, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('sub', () => {
  it('subtracts elementwise with broadcasting, in operand order', () => {
    const out = sub.forward([t64([2, 2], [1, 2, 3, 4]), t64([2], [10, -1])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [-9, 3, -7, 5]);
    expectClose(sub.forward([t64([], [1]), t64([2], [3, -3])], {}), [-2, 4]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(sub);
  });

  it('passes the gradient to a and its negation to b', () => {
    expect(localPartials(sub, 3, -7)).toEqual([1, -1]);
  });

  it('has a VJP matching finite differences, including at 0 and across broadcasting', () => {
    checkVjp(sub, [t64([3], [0, 1.5, -2]), t64([3], [0.5, 0, -1])]);
    checkVjp(sub, [rand([2, 3], 1), rand([3], 2)]);
    checkVjp(sub, [rand([4, 1], 3), rand([1, 5], 4)]);
    checkVjp(sub, [rand([2, 2], 5), t64([], [0])]);
  });
});
