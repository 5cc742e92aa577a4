import { describe, expect, it } from 'vitest';
import { squeeze } from '../../../src/engine/ops/squeeze.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('squeeze', () => {
  const shape = (s: number[], attrs: object = {}) => squeeze.shape([s], squeeze.parseAttrs(attrs));

  it('drops every size-1 axis when axis is omitted', () => {
    expect(shape([1, 3, 1, 2])).toEqual([3, 2]);
    expect(shape([1, 1])).toEqual([]);
    const y = squeeze.forward([t64([1, 3], [1, 2, 3])], squeeze.parseAttrs({}));
    expect(y.shape).toEqual([3]);
    expectClose(y, [1, 2, 3]);
  });

  it('drops one axis, and like torch leaves a non-1 axis alone', () => {
    expect(shape([1, 3, 1], { axis: -1 })).toEqual([1, 3]);
    expect(shape([1, 3, 1], { axis: 0 })).toEqual([3, 1]);
    expect(shape([1, 3, 1], { axis: 1 })).toEqual([1, 3, 1]);
    expect(shape([], { axis: -1 })).toEqual([]);
  });

  it('rejects an axis out of range', () => {
    expect(() => shape([1, 3], { axis: 2 })).toThrow(/axis 2 is out of range for shape \[1, 3\]/);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(squeeze, [rand([1, 3, 1, 2], 1)]);
    checkVjp(squeeze, [rand([2, 1], 2)], { axis: 1 });
  });
});
