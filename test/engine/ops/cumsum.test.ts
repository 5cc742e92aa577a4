import { describe, expect, it } from 'vitest';
import { cumsum } from '../../../src/engine/ops/cumsum.js';
import { tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13, float64, x = arange(12).reshape(3, 4), torch.cumsum(x, dim) and
// (y * arange(12).reshape(3, 4)).sum().backward()
const x = t64([3, 4], (i) => i);
const g = t64([3, 4], (i) => i);
const run = (axis: number) => {
  const attrs = cumsum.parseAttrs({ axis });
  const y = cumsum.forward([x], attrs);
  return { y, gx: cumsum.vjp([x], y, g, attrs)[0]! };
};

describe('cumsum', () => {
  it('sums along axis 0 and -1 as torch.cumsum, and its gradient runs from the back', () => {
    const rows = run(0);
    expectClose(rows.y, [0, 1, 2, 3, 4, 6, 8, 10, 12, 15, 18, 21]);
    expectClose(rows.gx, [12, 15, 18, 21, 12, 14, 16, 18, 8, 9, 10, 11]);
    const cols = run(-1);
    expectClose(cols.y, [0, 1, 3, 6, 4, 9, 15, 22, 8, 17, 27, 38]);
    expectClose(cols.gx, [6, 6, 5, 3, 22, 18, 13, 7, 38, 30, 21, 11]);
  });

  it('takes axis 0 or -1 of a 0-d tensor, an empty axis, and float32', () => {
    expectClose(cumsum.forward([t64([], [3])], cumsum.parseAttrs({ axis: -1 })), [3]);
    expect(cumsum.shape([[2, 0]], cumsum.parseAttrs({ axis: 1 }))).toEqual([2, 0]);
    const y = cumsum.forward([tensor([4], [0.5, 1, 2, 4], 'float32')], cumsum.parseAttrs({ axis: 0 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [0.5, 1.5, 3.5, 7.5]);
  });

  it('refuses an axis out of range or missing', () => {
    expect(() => cumsum.shape([[3, 4]], cumsum.parseAttrs({ axis: 2 }))).toThrow(/axis 2 is out of range for shape \[3, 4\]/);
    expect(() => cumsum.shape([[]], cumsum.parseAttrs({ axis: 1 }))).toThrow(/axis 1 is out of range/);
    expect(() => cumsum.parseAttrs({})).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(cumsum, [rand([3, 4], 1)], { axis: 1 });
    checkVjp(cumsum, [rand([2, 3, 2], 2)], { axis: -2 });
    checkVjp(cumsum, [rand([], 3)], { axis: 0 });
  });
});
