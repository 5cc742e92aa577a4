import { describe, expect, it } from 'vitest';
import { flatten } from '../../../src/engine/ops/flatten.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

const attrs = (raw: unknown) => flatten.parseAttrs(raw);
const shapeOf = (x: number[], raw: unknown = {}) => flatten.shape([x], attrs(raw));

describe('flatten', () => {
  it('merges dims startDim … endDim as torch.flatten', () => {
    expect(attrs({})).toEqual({ startDim: 0, endDim: -1 });
    expect(shapeOf([2, 3, 4, 5])).toEqual([120]);
    expect(shapeOf([2, 3, 4, 5], { startDim: 1 })).toEqual([2, 60]);
    expect(shapeOf([2, 3, 4, 5], { startDim: 1, endDim: 2 })).toEqual([2, 12, 5]);
    expect(shapeOf([2, 3, 4, 5], { startDim: -2 })).toEqual([2, 3, 20]);
    expect(shapeOf([2, 3], { startDim: 1, endDim: 1 })).toEqual([2, 3]);
    expect(shapeOf([2, 0, 3], { startDim: 1 })).toEqual([2, 0]);
    expect(shapeOf([])).toEqual([1]);
    expect(shapeOf([], { startDim: -1, endDim: 0 })).toEqual([1]);
    const x = rand([2, 3, 2], 1);
    const y = flatten.forward([cast(x, 'float32')], attrs({ startDim: 1 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, x.data, 1e-7);
  });

  it('rejects axes out of range and startDim after endDim', () => {
    expect(() => shapeOf([2, 3], { startDim: 2 })).toThrow(/axis 2 is out of range for shape \[2, 3\]/);
    expect(() => shapeOf([2, 3, 4], { startDim: 2, endDim: 1 })).toThrow(ShapeError);
    expect(() => shapeOf([2, 3, 4], { startDim: -1, endDim: 0 })).toThrow(/startDim -1 comes after endDim 0/);
    expect(() => attrs({ start_dim: 1 })).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(flatten, [rand([2, 3, 4], 2)], { startDim: 1 });
    checkVjp(flatten, [t64([], [0])]);
  });
});
