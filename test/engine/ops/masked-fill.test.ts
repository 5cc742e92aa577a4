import { describe, expect, it } from 'vitest';
import { maskedFill } from '../../../src/engine/ops/masked-fill.js';
import { ShapeError, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('masked_fill', () => {
  it('writes value where mask is nonzero, x broadcast with mask, as torch.masked_fill', () => {
    // torch: torch.masked_fill(arange(3.), [[True, False, True], [False, False, True]], 5) → [[5, 1, 5], [0, 1, 5]]
    const y = maskedFill.forward([t64([3], [0, 1, 2]), t64([2, 3], [1, 0, 1, 0, 0, 1])], maskedFill.parseAttrs({ value: 5 }));
    expect(y.shape).toEqual([2, 3]);
    expectClose(y, [5, 1, 5, 0, 1, 5]);
    expect(() => maskedFill.shape([[3], [2]], maskedFill.parseAttrs({ value: 0 }))).toThrow(ShapeError);
  });

  it('takes "-inf" and "inf" as values, which JSON cannot write as numbers', () => {
    // a causal mask before a softmax
    const scores = t64([2, 2], [0.5, 0.25, 1, 2]);
    const upper = t64([2, 2], [0, 1, 0, 0]);
    const y = maskedFill.forward([scores, upper], maskedFill.parseAttrs({ value: '-inf' }));
    expect(Array.from(y.data)).toEqual([0.5, -Infinity, 1, 2]);
    expect(maskedFill.parseAttrs({ value: 'inf' }).value).toBe(Infinity);
    expect(() => maskedFill.parseAttrs({ value: 'nan' })).toThrow();
    expect(() => maskedFill.parseAttrs({})).toThrow();
  });

  it('passes g through where the mask is false only; the mask takes no gradient', () => {
    const x = t64([2, 2], [1, 2, 3, 4]);
    const m = t64([2], [0, 1]);
    const attrs = maskedFill.parseAttrs({ value: -1 });
    const y = maskedFill.forward([x, m], attrs);
    const [gx, gm] = maskedFill.vjp([x, m], y, t64([2, 2], [1, 2, 3, 4]), attrs);
    expectClose(gx!, [1, 0, 3, 0]);
    expect(gm).toBeNull();
    expect(maskedFill.nonDifferentiable).toEqual([1]);
  });

  it('computes in float32', () => {
    const y = maskedFill.forward([tensor([2], [1, 2], 'float32'), tensor([2], [1, 0], 'float32')], maskedFill.parseAttrs({ value: 0.1 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [Math.fround(0.1), 2]);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(maskedFill, [rand([3, 4], 1), t64([4], [1, 0, 0, 1])], { value: 2 });
    checkVjp(maskedFill, [rand([3, 1], 2), t64([2, 1, 4], (i) => i % 3)], { value: -1 });
  });
});
