import { describe, expect, it } from 'vitest';
import { sum } from '../../../src/engine/ops/sum.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { checkZeroDimAxes } from '../../helpers/reductions.js';

describe('sum', () => {
  const x = t64([2, 3], [1, 2, 3, 4, 5, 6]);
  const run = (attrs: object) => sum.forward([x], sum.parseAttrs(attrs));

  it('sums over all axes by default, or over the given axes', () => {
    const all = run({});
    expect(all.shape).toEqual([]);
    expectClose(all, [21]);
    expectClose(run({ axes: 0 }), [5, 7, 9]);
    expectClose(run({ axes: [-1] }), [6, 15]);
    expectClose(run({ axes: [1, 0] }), [21]);
    const t = t64([2, 3, 2], (i) => i);
    expectClose(sum.forward([t], sum.parseAttrs({ axes: [0, 2] })), [0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11]);
  });

  it('keeps reduced axes as size 1 with keepdims', () => {
    expect(sum.shape([[2, 3, 4]], sum.parseAttrs({ axes: [1], keepdims: true }))).toEqual([2, 1, 4]);
    expect(sum.shape([[2, 3, 4]], sum.parseAttrs({ keepdims: true }))).toEqual([1, 1, 1]);
    expect(sum.shape([[2, 3, 4]], sum.parseAttrs({ axes: [0, 2] }))).toEqual([3]);
    expectClose(run({ axes: 1, keepdims: true }), [6, 15]);
  });

  it('rejects repeated or out-of-range axes', () => {
    expect(() => sum.shape([[2, 3]], sum.parseAttrs({ axes: [1, -1] }))).toThrow(/axis 1 appears more than once/);
    expect(() => sum.shape([[2, 3]], sum.parseAttrs({ axes: [2] }))).toThrow(ShapeError);
    expect(() => sum.parseAttrs({ axes: [] })).toThrow();
  });

  it('accumulates float32 input in float64', () => {
    const big = cast(t64([4], [1e8, 1, 1, -1e8]), 'float32');
    expectClose(sum.forward([big], sum.parseAttrs({})), [2]);
  });

  it('reduces a 0-d tensor over axis 0 or -1, as torch', () => {
    checkZeroDimAxes(sum, 2.5, 2.5);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(sum, [rand([2, 3, 4], 1)]);
    checkVjp(sum, [rand([2, 3, 4], 2)], { axes: [0, 2] });
    checkVjp(sum, [rand([2, 3], 3)], { axes: -1, keepdims: true });
    checkVjp(sum, [t64([], [0])]);
  });
});
