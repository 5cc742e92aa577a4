import { describe, expect, it } from 'vitest';
import { OpValueError } from '../../../src/engine/op.js';
import { indexSelect } from '../../../src/engine/ops/index-select.js';
import { ShapeError, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13, float64, x = arange(12).reshape(3, 4), x.index_select(1, [3, 0, 3]),
// (y * arange(1, 10).reshape(3, 3)).sum().backward()
const x = t64([3, 4], (i) => i);

describe('index_select', () => {
  it('takes the slices at the given positions, in order, repeats adding their gradients', () => {
    const attrs = indexSelect.parseAttrs({ axis: 1 });
    const idx = t64([3], [3, 0, 3]);
    const y = indexSelect.forward([x, idx], attrs);
    expect(y.shape).toEqual([3, 3]);
    expectClose(y, [3, 0, 3, 7, 4, 7, 11, 8, 11]);
    const [gx, gi] = indexSelect.vjp([x, idx], y, t64([3, 3], (i) => i + 1), attrs);
    expectClose(gx!, [2, 0, 0, 4, 5, 0, 0, 10, 8, 0, 0, 16]);
    expect(gi).toBeNull();
    expect(indexSelect.nonDifferentiable).toEqual([1]);
  });

  it('selects rows along axis 0 or -2, keeps the axis for a 0-d index, and computes in float32', () => {
    expectClose(indexSelect.forward([x, t64([2], [2, 2])], indexSelect.parseAttrs({ axis: -2 })), [8, 9, 10, 11, 8, 9, 10, 11]);
    const one = indexSelect.forward([x, t64([], [1])], indexSelect.parseAttrs({ axis: 0 }));
    expect(one.shape).toEqual([1, 4]);
    expectClose(one, [4, 5, 6, 7]);
    expect(indexSelect.shape([[3, 4], [0]], indexSelect.parseAttrs({ axis: 1 }))).toEqual([3, 0]);
    const y = indexSelect.forward([tensor([3, 4], x.data, 'float32'), tensor([1], [2], 'float32')], indexSelect.parseAttrs({ axis: 0 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [8, 9, 10, 11]);
  });

  it('refuses an index that is not a vector, a bad axis and bad positions', () => {
    const attrs = indexSelect.parseAttrs({ axis: 1 });
    expect(() => indexSelect.shape([[3, 4], [2, 1]], attrs)).toThrow(new ShapeError('index_select: index must be a vector (or a scalar), got [2, 1]', 1));
    expect(() => indexSelect.shape([[3, 4], [2]], indexSelect.parseAttrs({ axis: 2 }))).toThrow(/axis 2 is out of range/);
    expect(() => indexSelect.shape([[], [2]], indexSelect.parseAttrs({ axis: 0 }))).toThrow(/a 0-d input has one element to select, got 2/);
    expect(() => indexSelect.forward([x, t64([2], [1, 4])], attrs)).toThrow(new OpValueError('index_select: index 4 at index[1] is out of range [0, 4)', 1));
    expect(() => indexSelect.forward([x, t64([1], [1.5])], attrs)).toThrow('index_select: index[0] = 1.5 is not an integer index');
    expect(() => indexSelect.parseAttrs({ dim: 1 })).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(indexSelect, [rand([3, 4], 1), t64([3], [3, 0, 3])], { axis: 1 });
    checkVjp(indexSelect, [rand([2, 3, 2], 2), t64([4], [2, 2, 0, 1])], { axis: 1 });
    checkVjp(indexSelect, [rand([4], 3), t64([], [2])], { axis: 0 });
    checkVjp(indexSelect, [rand([], 4), t64([1], [0])], { axis: -1 });
  });
});
