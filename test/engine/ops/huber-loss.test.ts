import { describe, expect, it } from 'vitest';
import { huberLoss } from '../../../src/engine/ops/huber-loss.js';
import { ShapeError, scalar } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64,
// F.huber_loss(p, t, reduction=r, delta=δ) with the p and t below.
const p = t64([2, 3], [0.5, -1.25, 2.0, 3.0, 0.0, -0.75]);
const t = t64([2, 3], [1.0, -1.0, 0.5, 0.0, 0.0, 1.5]);

describe('huber_loss', () => {
  it('matches PyTorch for both reductions and two deltas, delta 1 and mean by default', () => {
    expectClose(huberLoss.forward([p, t], huberLoss.parseAttrs({})), [0.9010416666666666]);
    expectClose(huberLoss.forward([p, t], huberLoss.parseAttrs({ reduction: 'sum' })), [5.40625]);
    expectClose(huberLoss.forward([p, t], huberLoss.parseAttrs({ delta: 0.5 })), [0.5260416666666666]);
    expectClose(huberLoss.forward([p, t], huberLoss.parseAttrs({ delta: 0.5, reduction: 'sum' })), [3.15625]);
  });

  it('requires equal shapes and a positive delta', () => {
    const attrs = huberLoss.parseAttrs({});
    expect(huberLoss.shape([[], []], attrs)).toEqual([]);
    expect(() => huberLoss.shape([[3], [1]], attrs)).toThrow(ShapeError);
    expect(() => huberLoss.parseAttrs({ delta: 0 })).toThrow();
    expect(() => huberLoss.parseAttrs({ delta: -1 })).toThrow();
  });

  it('has slope ±delta at |d| = delta, as PyTorch', () => {
    // torch: F.huber_loss(x, y, reduction='sum', delta=1).backward() with x = [1, 2, -1], y = [1, 1, 0]
    // gives x.grad = [0, 1, -1], y.grad = [0, -1, 1].
    const x = t64([3], [1, 2, -1]);
    const y = t64([3], [1, 1, 0]);
    const attrs = huberLoss.parseAttrs({ reduction: 'sum' });
    const [gx, gy] = huberLoss.vjp([x, y], huberLoss.forward([x, y], attrs), scalar(1, 'float64'), attrs);
    expectClose(gx!, [0, 1, -1], 0);
    expectClose(gy!, [0, -1, 1], 0);
  });

  it('has VJPs matching finite differences, including at 0 and at |d| = delta', () => {
    checkVjp(huberLoss, [p, t]);
    checkVjp(huberLoss, [p, t], { delta: 0.5, reduction: 'sum' });
    checkVjp(huberLoss, [rand([3, 4], 1, -3, 3), rand([3, 4], 2, -3, 3)], { delta: 0.7 });
    checkVjp(huberLoss, [t64([4], [0, 2, -1, 0.25]), t64([4], [0, 1, 0, -0.25])]);
    checkVjp(huberLoss, [t64([2], [0.5, -0.5]), t64([2], [0, 0])], { delta: 0.5 });
  });
});
