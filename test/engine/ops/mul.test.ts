import { describe, expect, it } from 'vitest';
import { mul } from '../../../src/engine/ops/mul.js';
import { ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('mul', () => {
  it('multiplies elementwise with broadcasting', () => {
    const out = mul.forward([t64([2, 2], [1, 2, 3, 4]), t64([2], [10, -1])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [10, -2, 30, -4]);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expect(mul.shape([[3, 1], [4]], {})).toEqual([3, 4]);
    expect(mul.shape([[], [2, 5]], {})).toEqual([2, 5]);
    expect(() => mul.shape([[3], [4]], {})).toThrow(ShapeError);
  });

  it('has a VJP matching finite differences, including at 0 and across broadcasting', () => {
    checkVjp(mul, [t64([3], [0, 1.5, -2]), t64([3], [0.5, 0, -1])]);
    checkVjp(mul, [rand([2, 3], 1), rand([3], 2)]);
    checkVjp(mul, [rand([4, 1], 3), rand([1, 5], 4)]);
    checkVjp(mul, [t64([], [0]), rand([2, 2], 5)]);
  });
});
