import { describe, expect, it } from 'vitest';
import { bceLoss } from '../../../src/engine/ops/bce-loss.js';
import { bceWithLogitsLoss } from '../../../src/engine/ops/bce-with-logits-loss.js';
import { allFinite, ShapeError, scalar, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64,
// F.binary_cross_entropy_with_logits(x, y, reduction=r) and its .backward() with the x and y below.
const x = t64([2, 3], [1000, -1000, 0, 2.5, -0.5, -3]);
const y = t64([2, 3], [0, 0, 1, 1, 0.3, 0]);

describe('bce_with_logits_loss', () => {
  it('matches PyTorch for both reductions, finite for logits of magnitude 1e3', () => {
    expectClose(bceWithLogitsLoss.forward([x, y], bceWithLogitsLoss.parseAttrs({})), [166.9074502084344]);
    expectClose(bceWithLogitsLoss.forward([x, y], bceWithLogitsLoss.parseAttrs({ reduction: 'sum' })), [1001.4447012506064]);
  });

  it('has the gradients PyTorch computes', () => {
    const attrs = bceWithLogitsLoss.parseAttrs({});
    const out = bceWithLogitsLoss.forward([x, y], attrs);
    const [gx, gy] = bceWithLogitsLoss.vjp([x, y], out, scalar(1, 'float64'), attrs);
    expect(allFinite(gx!)).toBe(true);
    expectClose(gx!, [0.16666666666666666, 0, -0.08333333333333333, -0.012643030003540575, 0.012923444799690903, 0.00790431219626113]);
    expectClose(gy!, [-166.66666666666666, 166.66666666666666, 0, -0.4166666666666667, 0.08333333333333333, 0.5]);
  });

  it('stays accurate in float32', () => {
    // torch float32: F.binary_cross_entropy_with_logits([1000, -1000, 20], [1, 0, 0.5], reduction='sum') → 10.0
    const out = bceWithLogitsLoss.forward(
      [tensor([3], [1000, -1000, 20], 'float32'), tensor([3], [1, 0, 0.5], 'float32')],
      bceWithLogitsLoss.parseAttrs({ reduction: 'sum' }),
    );
    expect(out.data).toBeInstanceOf(Float32Array);
    expectClose(out, [10], 1e-6);
  });

  it('agrees with bce_loss on sigmoid(x) for moderate logits', () => {
    const xs = rand([8], 4, -5, 5);
    const ys = rand([8], 5, 0, 1);
    const ps = t64([8], (i) => 1 / (1 + Math.exp(-xs.data[i]!)));
    const attrs = { reduction: 'mean' as const };
    expectClose(bceWithLogitsLoss.forward([xs, ys], attrs), bceLoss.forward([ps, ys], attrs).data, 1e-12);
  });

  it('requires equal shapes', () => {
    const attrs = bceWithLogitsLoss.parseAttrs({});
    expect(bceWithLogitsLoss.shape([[3], [3]], attrs)).toEqual([]);
    expect(() => bceWithLogitsLoss.shape([[3], [3, 1]], attrs)).toThrow(ShapeError);
  });

  it('has VJPs for logits and target matching finite differences, including at 0', () => {
    checkVjp(bceWithLogitsLoss, [x, y]);
    checkVjp(bceWithLogitsLoss, [rand([3, 4], 1, -4, 4), rand([3, 4], 2, 0, 1)], { reduction: 'sum' });
    checkVjp(bceWithLogitsLoss, [t64([3], [0, 0, 30]), t64([3], [0, 1, 0.5])]);
  });
});
