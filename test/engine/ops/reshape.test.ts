import { describe, expect, it } from 'vitest';
import { reshape } from '../../../src/engine/ops/reshape.js';
import { ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('reshape', () => {
  const attrs = (shape: number[]) => reshape.parseAttrs({ shape });

  it('keeps the row-major order and infers one -1', () => {
    const x = t64([2, 3], [1, 2, 3, 4, 5, 6]);
    const y = reshape.forward([x], attrs([3, -1]));
    expect(y.shape).toEqual([3, 2]);
    expectClose(y, [1, 2, 3, 4, 5, 6]);
    expect(reshape.shape([[2, 3, 4]], attrs([-1]))).toEqual([24]);
    expect(reshape.shape([[2, 3, 4]], attrs([4, -1, 2]))).toEqual([4, 3, 2]);
    expect(reshape.shape([[1]], attrs([]))).toEqual([]);
    expect(reshape.shape([[0, 3]], attrs([3, 0]))).toEqual([3, 0]);
  });

  it('returns a tensor of its own, not a view of the input', () => {
    const x = t64([4], [1, 2, 3, 4]);
    const y = reshape.forward([x], attrs([2, 2]));
    y.data[0] = 99;
    expect(x.data[0]).toBe(1);
  });

  it('rejects shapes that do not fit, naming them', () => {
    expect(() => reshape.shape([[2, 3]], attrs([4, 2]))).toThrow(/cannot reshape \[2, 3\] to \[4, 2\]: 6 elements/);
    expect(() => reshape.shape([[2, 3]], attrs([-1, -1]))).toThrow(/only one dimension can be -1/);
    expect(() => reshape.shape([[2, 3]], attrs([4, -1]))).toThrow(ShapeError);
    expect(() => reshape.shape([[0, 3]], attrs([0, -1]))).toThrow(/cannot infer the -1/);
    expect(() => reshape.parseAttrs({ shape: [2, -2] })).toThrow();
    expect(() => reshape.parseAttrs({})).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(reshape, [rand([2, 3, 2], 1)], { shape: [3, -1] });
    checkVjp(reshape, [rand([6], 2)], { shape: [1, 2, 3] });
  });
});
