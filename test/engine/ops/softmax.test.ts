import { describe, expect, it } from 'vitest';
import { softmax } from '../../../src/engine/ops/softmax.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('softmax', () => {
  const run = (x = t64([3], [1, 2, 3]), attrs: object = {}) => softmax.forward([x], softmax.parseAttrs(attrs));
  const expected = [0.09003057317038046, 0.24472847105479764, 0.6652409557748218];

  it('matches exp(x) / Σ exp(x) along the last axis by default (numpy-computed values)', () => {
    expectClose(run(), expected, 1e-14);
    const x = t64([2, 3], [1, 2, 3, 0, 0, -1]);
    const y0 = run(x, { axis: 0 });
    expectClose(y0, [0.7310585786300049, 0.8807970779778823, 0.9820137900379085, 0.2689414213699951, 0.11920292202211755, 0.01798620996209156], 1e-14);
  });

  it('is shift-invariant and never overflows', () => {
    expectClose(run(t64([3], [1001, 1002, 1003])), expected, 1e-14);
    expectClose(run(t64([3], [-1001, -1000, -999])), expected, 1e-14);
    expectClose(run(cast(t64([3], [101, 102, 103]), 'float32')), expected, 1e-6);
    expectClose(run(t64([], [5])), [1]);
  });

  it('rejects an axis out of range', () => {
    expect(() => softmax.shape([[2, 3]], softmax.parseAttrs({ axis: 2 }))).toThrow(ShapeError);
    expect(softmax.shape([[2, 3]], softmax.parseAttrs({ axis: -2 }))).toEqual([2, 3]);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(softmax, [rand([2, 3, 4], 1, -3, 3)]);
    checkVjp(softmax, [rand([2, 3, 4], 2)], { axis: 1 });
    checkVjp(softmax, [t64([2, 2], [0, 0, 0, 0])], { axis: 0 });
    checkVjp(softmax, [t64([3], [20, 0, -20])]);
  });
});
