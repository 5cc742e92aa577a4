import { describe, expect, it } from 'vitest';
import { div } from '../../../src/engine/ops/div.js';
import { expectBroadcastShape, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('div', () => {
  it('divides elementwise with broadcasting, in operand order', () => {
    const out = div.forward([t64([2, 2], [1, -6, 0, 3]), t64([2], [2, 3])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [0.5, -2, 0, 1]);
    expectClose(div.forward([t64([], [1]), t64([2], [4, -0.5])], {}), [0.25, -2]);
  });

  it('gives ±inf and NaN for a zero divisor, as IEEE arithmetic and PyTorch do', () => {
    const out = div.forward([t64([3], [1, -1, 0]), t64([], [0])], {});
    expect(Array.from(out.data)).toEqual([Infinity, -Infinity, NaN]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(div);
  });

  it('has partials 1/b and −a/b²', () => {
    expect(localPartials(div, 3, 2)).toEqual([0.5, -0.75]);
    expect(localPartials(div, 0, -4)).toEqual([-0.25, -0]);
  });

  it('has a VJP matching finite differences, including a = 0 and across broadcasting', () => {
    checkVjp(div, [t64([3], [0, 1.5, -2]), t64([3], [0.5, -3, 1.25])]);
    checkVjp(div, [rand([2, 3], 1), rand([3], 2, 0.5, 2)]);
    checkVjp(div, [rand([4, 1], 3), rand([1, 5], 4, -2, -0.5)]);
    checkVjp(div, [t64([], [0]), rand([2, 2], 5, 1, 3)]);
  });
});
