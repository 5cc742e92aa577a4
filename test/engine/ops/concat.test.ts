import { describe, expect, it } from 'vitest';
import { concat } from '../../../src/engine/ops/concat.js';
import { ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('concat', () => {
  const a = t64([2, 2], [1, 2, 3, 4]);
  const b = t64([1, 2], [5, 6]);
  const c = t64([2, 1], [7, 8]);

  it('joins along axis 0 by default, as torch.cat', () => {
    const y = concat.forward([a, b], concat.parseAttrs({}));
    expect(y.shape).toEqual([3, 2]);
    expectClose(y, [1, 2, 3, 4, 5, 6]);
  });

  it('joins along an inner or negative axis', () => {
    const y = concat.forward([a, c, a], concat.parseAttrs({ axis: -1 }));
    expect(y.shape).toEqual([2, 5]);
    expectClose(y, [1, 2, 7, 1, 2, 3, 4, 8, 3, 4]);
    expect(concat.shape([[2, 0], [2, 3]], concat.parseAttrs({ axis: 1 }))).toEqual([2, 3]);
    expectClose(concat.forward([a], concat.parseAttrs({})), [1, 2, 3, 4]);
  });

  it('rejects inputs that differ outside the axis, naming the input', () => {
    const shape = (shapes: number[][], axis = 0) => concat.shape(shapes, concat.parseAttrs({ axis }));
    expect(() => shape([[2, 2], [2, 3]])).toThrow(/input 1 \[2, 3\] does not match input 0 \[2, 2\] outside that axis/);
    expect(() => shape([[2, 2], [2, 2, 1]])).toThrow(ShapeError);
    expect(() => shape([[2], [2]], 1)).toThrow(/axis 1 is out of range for shape \[2\]/);
    expect(() => shape([[], []])).toThrow(/0-d/);
    try {
      shape([[2, 2], [1, 2], [3, 1]]);
      expect.unreachable();
    } catch (e) {
      expect((e as ShapeError).input).toBe(2);
    }
    expect(concat.minArity).toBe(1);
    expect(concat.maxArity).toBe(64);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(concat, [rand([2, 3], 1), rand([1, 3], 2), rand([3, 3], 3)]);
    checkVjp(concat, [rand([2, 1, 2], 4), rand([2, 3, 2], 5)], { axis: 1 });
    checkVjp(concat, [rand([2, 2], 6), rand([2, 1], 7)], { axis: -1 });
  });
});
