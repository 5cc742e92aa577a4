import { describe, expect, it } from 'vitest';
import { mean } from '../../../src/engine/ops/mean.js';
import { ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { checkZeroDimAxes } from '../../helpers/reductions.js';

describe('mean', () => {
  const x = t64([2, 3], [1, 2, 3, 4, 5, 6]);
  const run = (attrs: object) => mean.forward([x], mean.parseAttrs(attrs));

  it('averages over all axes by default, or over the given axes', () => {
    expectClose(run({}), [3.5]);
    expectClose(run({ axes: 0 }), [2.5, 3.5, 4.5]);
    expectClose(run({ axes: [1], keepdims: true }), [2, 5]);
    expect(mean.shape([[2, 3, 4]], mean.parseAttrs({ axes: [0, -1], keepdims: true }))).toEqual([1, 3, 1]);
  });

  it('is NaN over an empty axis, as torch', () => {
    const y = mean.forward([t64([0, 2], [])], mean.parseAttrs({ axes: 0 }));
    expect(y.shape).toEqual([2]);
    expect(Number.isNaN(y.data[0])).toBe(true);
  });

  it('rejects repeated or out-of-range axes', () => {
    expect(() => mean.shape([[2, 3]], mean.parseAttrs({ axes: [0, -2] }))).toThrow(/appears more than once/);
    expect(() => mean.shape([[2, 3]], mean.parseAttrs({ axes: -3 }))).toThrow(ShapeError);
  });

  it('reduces a 0-d tensor over axis 0 or -1, as torch', () => {
    checkZeroDimAxes(mean, 2.5, 2.5);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(mean, [rand([2, 3, 4], 1)]);
    checkVjp(mean, [rand([2, 3, 4], 2)], { axes: [1] });
    checkVjp(mean, [t64([2, 2], [0, 0, 0, 0])], { axes: 0, keepdims: true });
  });
});
