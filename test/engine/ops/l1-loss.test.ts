import { describe, expect, it } from 'vitest';
import { l1Loss } from '../../../src/engine/ops/l1-loss.js';
import { ShapeError, scalar } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64,
// F.l1_loss(p, t, reduction=r) with the p and t below.
const p = t64([2, 3], [0.5, -1.25, 2.0, 3.0, 0.0, -0.75]);
const t = t64([2, 3], [1.0, -1.0, 0.5, 0.0, 0.0, 1.5]);

describe('l1_loss', () => {
  it('matches PyTorch for both reductions, mean by default', () => {
    expectClose(l1Loss.forward([p, t], l1Loss.parseAttrs({})), [1.25]);
    expectClose(l1Loss.forward([p, t], l1Loss.parseAttrs({ reduction: 'sum' })), [7.5]);
  });

  it('requires equal shapes', () => {
    const attrs = l1Loss.parseAttrs({});
    expect(l1Loss.shape([[5], [5]], attrs)).toEqual([]);
    expect(() => l1Loss.shape([[2, 3], [3, 2]], attrs)).toThrow(ShapeError);
  });

  it('uses the subgradient 0 where prediction = target, as PyTorch', () => {
    // torch: F.l1_loss(x, y, reduction='sum').backward() with x = [1, 2, -1], y = [1, 1, 0]
    // gives x.grad = [0, 1, -1], y.grad = [0, -1, 1].
    const x = t64([3], [1, 2, -1]);
    const y = t64([3], [1, 1, 0]);
    const attrs = l1Loss.parseAttrs({ reduction: 'sum' });
    const [gx, gy] = l1Loss.vjp([x, y], l1Loss.forward([x, y], attrs), scalar(1, 'float64'), attrs);
    expectClose(gx!, [0, 1, -1], 0);
    expectClose(gy!, [0, -1, 1], 0);
  });

  it('scales the gradient by 1/n for the mean', () => {
    const x = t64([4], [3, -3, 0.5, 2]);
    const y = t64([4], [0, 0, 0.5, 0]);
    const attrs = l1Loss.parseAttrs({});
    const [gx] = l1Loss.vjp([x, y], l1Loss.forward([x, y], attrs), scalar(2, 'float64'), attrs);
    expectClose(gx!, [0.5, -0.5, 0, 0.5]);
  });

  it('has VJPs matching finite differences', () => {
    // p[1, 1] = t[1, 1] = 0 sits on the kink, where the central difference is 0 like the subgradient
    checkVjp(l1Loss, [p, t]);
    checkVjp(l1Loss, [rand([3, 4], 1), rand([3, 4], 2)], { reduction: 'sum' });
    checkVjp(l1Loss, [t64([2], [0, 1]), t64([2], [0, 1])]);
  });
});
