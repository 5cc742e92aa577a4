import { describe, expect, it } from 'vitest';
import { unsqueeze } from '../../../src/engine/ops/unsqueeze.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('unsqueeze', () => {
  const shape = (s: number[], axis: number) => unsqueeze.shape([s], unsqueeze.parseAttrs({ axis }));

  it('inserts a size-1 axis at the position it will have in the output', () => {
    expect(shape([2, 3], 0)).toEqual([1, 2, 3]);
    expect(shape([2, 3], 1)).toEqual([2, 1, 3]);
    expect(shape([2, 3], 2)).toEqual([2, 3, 1]);
    expect(shape([2, 3], -1)).toEqual([2, 3, 1]);
    expect(shape([2, 3], -3)).toEqual([1, 2, 3]);
    expect(shape([], 0)).toEqual([1]);
    const y = unsqueeze.forward([t64([2], [4, 5])], unsqueeze.parseAttrs({ axis: 1 }));
    expect(y.shape).toEqual([2, 1]);
    expectClose(y, [4, 5]);
  });

  it('rejects an axis out of range, and requires axis as torch does', () => {
    expect(() => shape([2, 3], 3)).toThrow(/axis 3 is out of range for shape \[2, 3\] \(expected -3 … 2\)/);
    expect(() => shape([2, 3], -4)).toThrow(/out of range/);
    expect(() => unsqueeze.parseAttrs({})).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(unsqueeze, [rand([2, 3], 1)], { axis: 1 });
    checkVjp(unsqueeze, [t64([], [0])], { axis: 0 });
  });
});
