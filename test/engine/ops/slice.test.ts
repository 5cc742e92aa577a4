import { describe, expect, it } from 'vitest';
import { slice } from '../../../src/engine/ops/slice.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('slice', () => {
  const x = t64([5], [0, 1, 2, 3, 4]);
  const run = (attrs: object) => slice.forward([x], slice.parseAttrs(attrs));

  it('takes x[start:end] along axis 0 by default', () => {
    expectClose(run({ start: 1, end: 3 }), [1, 2]);
    expectClose(run({ start: 2 }), [2, 3, 4]);
    expectClose(run({}), [0, 1, 2, 3, 4]);
  });

  it('follows Python semantics: negative indices count from the end, bounds are clamped', () => {
    expectClose(run({ start: -2 }), [3, 4]);
    expectClose(run({ start: 1, end: -1 }), [1, 2, 3]);
    expectClose(run({ start: -100, end: 2 }), [0, 1]);
    expectClose(run({ start: 3, end: 100 }), [3, 4]);
    const empty = run({ start: 4, end: 2 });
    expect(empty.shape).toEqual([0]);
    expect(run({ start: 7 }).shape).toEqual([0]);
  });

  it('slices an inner axis', () => {
    const m = t64([2, 3, 2], (i) => i);
    const y = slice.forward([m], slice.parseAttrs({ axis: 1, start: 1 }));
    expect(y.shape).toEqual([2, 2, 2]);
    expectClose(y, [2, 3, 4, 5, 8, 9, 10, 11]);
    expect(slice.shape([[2, 3, 2]], slice.parseAttrs({ axis: -1, start: 0, end: 1 }))).toEqual([2, 3, 1]);
  });

  it('rejects an axis out of range and malformed attrs', () => {
    expect(() => slice.shape([[2, 3]], slice.parseAttrs({ axis: 2 }))).toThrow(/axis 2 is out of range for shape \[2, 3\]/);
    expect(() => slice.shape([[]], slice.parseAttrs({}))).toThrow(/no axes/);
    expect(() => slice.parseAttrs({ start: 0.5 })).toThrow();
    expect(() => slice.parseAttrs({ step: 2 })).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(slice, [rand([2, 4, 3], 1)], { axis: 1, start: 1, end: -1 });
    checkVjp(slice, [rand([5], 2)], { start: -3 });
    checkVjp(slice, [rand([3, 2], 3)], { start: 2, end: 1 });
  });
});
