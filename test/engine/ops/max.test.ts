import { describe, expect, it } from 'vitest';
import { max } from '../../../src/engine/ops/max.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { checkZeroDimAxes } from '../../helpers/reductions.js';

describe('max', () => {
  const x = t64([2, 3], [1, 5, -2, -4, -3, -6]);
  const run = (attrs: object) => max.forward([x], max.parseAttrs(attrs));

  it('takes the maximum over all axes by default, or over the given axes (torch.amax)', () => {
    expectClose(run({}), [5]);
    expectClose(run({ axes: 0 }), [1, 5, -2]);
    expectClose(run({ axes: 1 }), [5, -3]);
    expect(run({ axes: 1, keepdims: true }).shape).toEqual([2, 1]);
  });

  it('has no value over an empty axis', () => {
    expect(() => max.shape([[0, 3]], max.parseAttrs({ axes: 0 }))).toThrow(/empty axis of \[0, 3\]/);
    expect(max.shape([[0, 3]], max.parseAttrs({ axes: 1 }))).toEqual([0]);
    expect(() => max.shape([[2]], max.parseAttrs({ axes: [0, 0] }))).toThrow(ShapeError);
  });

  it('sends the gradient to the maximum, split evenly among ties as torch.amax', () => {
    const t = t64([2, 3], [3, 1, 3, 2, 2, 2]);
    const attrs = max.parseAttrs({ axes: 1 });
    const g = t64([2], [6, 3]);
    const [gx] = max.vjp([t], max.forward([t], attrs), g, attrs);
    expectClose(gx!, [3, 0, 3, 1, 1, 1]);
    const t32 = cast(t, 'float32');
    const [g32] = max.vjp([t32], max.forward([t32], attrs), cast(g, 'float32'), attrs);
    expectClose(g32!, [3, 0, 3, 1, 1, 1]);
  });

  it('reduces a 0-d tensor over axis 0 or -1, as torch', () => {
    checkZeroDimAxes(max, -1.5, -1.5);
  });

  it('has a VJP matching finite differences, also at a two-way tie (where the even split is the central difference)', () => {
    checkVjp(max, [rand([2, 3, 4], 1)]);
    checkVjp(max, [rand([2, 3, 4], 2)], { axes: [0, 2] });
    checkVjp(max, [t64([2, 2], [0, 0, -1, 0])], { axes: 1 });
    checkVjp(max, [t64([3], [0, 2, 2])]);
  });
});
