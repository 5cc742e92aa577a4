import { describe, expect, it } from 'vitest';
import { OpValueError } from '../../../src/engine/op.js';
import { bceLoss } from '../../../src/engine/ops/bce-loss.js';
import { ShapeError, scalar } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64, F.binary_cross_entropy(p, t, reduction=r)
// and its .backward() with the p and t below.
const p = t64([2, 3], [0.9, 0.2, 0.5, 0.0, 1.0, 0.3]);
const t = t64([2, 3], [1.0, 0.0, 0.25, 0.0, 1.0, 0.7]);
const one = scalar(1, 'float64');

describe('bce_loss', () => {
  it('matches PyTorch for both reductions, mean by default', () => {
    expectClose(bceLoss.forward([p, t], bceLoss.parseAttrs({})), [0.3285724489569594]);
    expectClose(bceLoss.forward([p, t], bceLoss.parseAttrs({ reduction: 'sum' })), [1.9714346937417564]);
  });

  it('clamps the logs at −100 like PyTorch', () => {
    // torch: p = [0, 1, 1e-50, 0.5], t = [1, 0, 0.5, 0.5], reduction='sum' → 250.69314718055995,
    // p.grad = [-1000000003995.8029, 1000000003995.8029, -500000001997.9014, 0] (its floor on p(1 − p) is
    // float32 1e-12, not 1e-12)
    const p2 = t64([4], [0, 1, 1e-50, 0.5]);
    const t2 = t64([4], [1, 0, 0.5, 0.5]);
    const attrs = bceLoss.parseAttrs({ reduction: 'sum' });
    const out = bceLoss.forward([p2, t2], attrs);
    expectClose(out, [250.69314718055995]);
    const [gp, gt] = bceLoss.vjp([p2, t2], out, one, attrs);
    expectClose(gp!, [-1000000003995.8029, 1000000003995.8029, -500000001997.9014, 0], 1e-15);
    // NOTE: PyTorch gives [inf, -inf, 115.13, 0] here (unclamped −logit p); we give the derivative of
    // the clamped loss, which stays finite.
    expectClose(gt!, [100, -100, 100, 0]);
  });

  it('has the gradients PyTorch computes', () => {
    const attrs = bceLoss.parseAttrs({});
    const [gp, gt] = bceLoss.vjp([p, t], bceLoss.forward([p, t], attrs), one, attrs);
    expectClose(gp!, [-0.1851851851851852, 0.2083333333333333, 0.16666666666666666, 0, 0, -0.31746031746031744]);
    // torch's target gradient at p = 0 and p = 1 is ±inf; see above
    expectClose(gt!, [-0.3662040962227033, 0.23104906018664842, 0, 100 / 6, -100 / 6, 0.14121631006453395]);
  });

  it('requires equal shapes', () => {
    const attrs = bceLoss.parseAttrs({});
    expect(bceLoss.shape([[2, 2], [2, 2]], attrs)).toEqual([]);
    expect(() => bceLoss.shape([[2, 2], [4]], attrs)).toThrow(ShapeError);
  });

  it('rejects predictions and targets outside [0, 1], naming the element', () => {
    const attrs = bceLoss.parseAttrs({});
    const bad = (): unknown => bceLoss.forward([t64([2, 2], [0.5, 0.5, 1.5, 0.5]), t64([2, 2], [0, 1, 1, 0])], attrs);
    expect(bad).toThrow(OpValueError);
    expect(bad).toThrow('bce_loss: prediction[1, 0] = 1.5 is outside [0, 1]');
    try {
      bceLoss.forward([t64([3], [0.5, 0.5, 0.5]), t64([3], [0, -0.25, 1])], attrs);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(OpValueError);
      expect((e as OpValueError).input).toBe(1);
      expect((e as OpValueError).message).toBe('bce_loss: target[1] = -0.25 is outside [0, 1]');
    }
    expect(() => bceLoss.forward([t64([1], [-1e-9]), t64([1], [0])], attrs)).toThrow(OpValueError);
  });

  it('has VJPs for prediction and target matching finite differences', () => {
    checkVjp(bceLoss, [rand([3, 4], 1, 0.05, 0.95), rand([3, 4], 2, 0, 1)]);
    // targets near the ends of [0, 1] (the finite difference must stay inside it)
    checkVjp(bceLoss, [rand([4], 3, 0.01, 0.99), t64([4], [1e-3, 0.999, 0.5, 1e-3])], { reduction: 'sum' });
    checkVjp(bceLoss, [t64([2], [1e-4, 0.9999]), t64([2], [0.5, 0.5])], {}, { rtol: 1e-4 });
  });
});
