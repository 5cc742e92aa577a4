import { describe, expect, it } from 'vitest';
import { add } from '../../../src/engine/ops/add.js';
import { expectBroadcastShape, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('add', () => {
  it('adds elementwise with broadcasting', () => {
    const out = add.forward([t64([2, 2], [1, 2, 3, 4]), t64([2], [10, -1])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [11, 1, 13, 3]);
    expectClose(add.forward([t64([], [0.5]), t64([3], [0, -0.5, 1])], {}), [0.5, 0, 1.5]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(add);
  });

  it('passes the gradient unchanged to both inputs', () => {
    expect(localPartials(add, 3, -7)).toEqual([1, 1]);
  });

  it('has a VJP matching finite differences, including at 0 and across broadcasting', () => {
    checkVjp(add, [t64([3], [0, 1.5, -2]), t64([3], [0.5, 0, -1])]);
    checkVjp(add, [rand([2, 3], 1), rand([3], 2)]);
    checkVjp(add, [rand([4, 1], 3), rand([1, 5], 4)]);
    checkVjp(add, [t64([], [0]), rand([2, 2], 5)]);
  });
});
