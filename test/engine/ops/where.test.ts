import { describe, expect, it } from 'vitest';
import { where } from '../../../src/engine/ops/where.js';
import { ShapeError, sumToShape, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('where', () => {
  const attrs = where.parseAttrs({});

  it('takes a where cond is nonzero (NaN included, as torch\'s bool()), b elsewhere, all three broadcast', () => {
    const cond = t64([2, 1], [0, NaN]);
    const a = t64([3], [1, 2, 3]);
    const b = t64([], [-1]);
    const y = where.forward([cond, a, b], attrs);
    expect(y.shape).toEqual([2, 3]);
    expectClose(y, [-1, -1, -1, 1, 2, 3]);
    expect(where.shape([[4, 1, 3], [2, 1], [1]], attrs)).toEqual([4, 2, 3]);
    expect(() => where.shape([[2], [3], [1]], attrs)).toThrow(ShapeError);
  });

  it('sends g to a where cond is true and to b elsewhere; cond takes no gradient', () => {
    const cond = t64([2, 2], [1, 0, -2, 0]);
    const a = t64([2, 1], [5, 6]);
    const b = t64([2, 2], [7, 8, 9, 10]);
    const y = where.forward([cond, a, b], attrs);
    expectClose(y, [5, 8, 6, 10]);
    const [gc, ga, gb] = where.vjp([cond, a, b], y, t64([2, 2], [1, 2, 3, 4]), attrs);
    expect(gc).toBeNull();
    expectClose(sumToShape(ga!, [2, 1]), [1, 3]);
    expectClose(gb!, [0, 2, 0, 4]);
    expect(where.nonDifferentiable).toEqual([0]);
  });

  it('computes in float32', () => {
    const y = where.forward([tensor([2], [1, 0], 'float32'), tensor([2], [0.5, 0.5], 'float32'), tensor([], [2], 'float32')], attrs);
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [0.5, 2]);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(where, [t64([3, 1], [1, 0, 1]), rand([3, 4], 1), rand([4], 2)]);
    checkVjp(where, [t64([2, 2], [0, 0, 1, 0]), rand([], 3), rand([2, 1], 4)]);
  });
});
