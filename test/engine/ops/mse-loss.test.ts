import { describe, expect, it } from 'vitest';
import { mseLoss } from '../../../src/engine/ops/mse-loss.js';
import { ShapeError, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64,
// F.mse_loss(p, t, reduction=r) with the p and t below.
const p = t64([2, 3], [0.5, -1.25, 2.0, 3.0, 0.0, -0.75]);
const t = t64([2, 3], [1.0, -1.0, 0.5, 0.0, 0.0, 1.5]);

describe('mse_loss', () => {
  it('matches PyTorch for both reductions, mean by default', () => {
    expectClose(mseLoss.forward([p, t], mseLoss.parseAttrs({})), [2.7708333333333335]);
    expectClose(mseLoss.forward([p, t], mseLoss.parseAttrs({ reduction: 'sum' })), [16.625]);
  });

  it('returns a scalar of the prediction dtype', () => {
    const out = mseLoss.forward([tensor([2], [1, 2], 'float32'), tensor([2], [0, 0], 'float32')], mseLoss.parseAttrs({}));
    expect(out.shape).toEqual([]);
    expect(out.data).toBeInstanceOf(Float32Array);
    expectClose(out, [2.5]);
  });

  it('requires equal shapes', () => {
    const attrs = mseLoss.parseAttrs({});
    expect(mseLoss.shape([[2, 3], [2, 3]], attrs)).toEqual([]);
    expect(() => mseLoss.shape([[4], [4, 1]], attrs)).toThrow(ShapeError);
    expect(() => mseLoss.shape([[4], []], attrs)).toThrow(/target shape \[\] must equal prediction shape \[4\]/);
    expect(() => mseLoss.forward([t64([2], [1, 2]), t64([3], [1, 2, 3])], attrs)).toThrow(ShapeError);
  });

  it('rejects unknown attributes and reductions', () => {
    expect(() => mseLoss.parseAttrs({ reduction: 'none' })).toThrow();
    expect(() => mseLoss.parseAttrs({ delta: 1 })).toThrow();
  });

  it('has VJPs for prediction and target matching finite differences', () => {
    checkVjp(mseLoss, [p, t]);
    checkVjp(mseLoss, [p, t], { reduction: 'sum' });
    checkVjp(mseLoss, [rand([3, 4], 1), rand([3, 4], 2)]);
    checkVjp(mseLoss, [t64([], [0]), t64([], [0])]);
  });
});
