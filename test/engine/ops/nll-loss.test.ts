import { describe, expect, it } from 'vitest';
import { OpValueError } from '../../../src/engine/op.js';
import { nllLoss } from '../../../src/engine/ops/nll-loss.js';
import { ShapeError, scalar, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13 (Debian python3-torch), float64, F.nll_loss(x, target, reduction=r)
// with long targets; by hand: −(x[0, 3] + x[1, 1] + x[2, 0]) = −(2 + 3 − 2) = −3.
const x = t64([3, 4], [1.5, -0.5, 0.25, 2.0, 0.0, 3.0, -1.0, 0.5, -2.0, 0.75, 1.25, -0.25]);
const t = t64([3], [3, 1, 0]);

describe('nll_loss', () => {
  it('matches PyTorch for both reductions', () => {
    expectClose(nllLoss.forward([x, t], nllLoss.parseAttrs({})), [-1]);
    expectClose(nllLoss.forward([x, t], nllLoss.parseAttrs({ reduction: 'sum' })), [-3]);
  });

  it('matches PyTorch on log-probabilities, [C] and [N, C, d] predictions', () => {
    const logp = t64([2, 2], [Math.log(0.25), Math.log(0.75), Math.log(0.5), Math.log(0.5)]);
    expectClose(nllLoss.forward([logp, t64([2], [1, 0])], nllLoss.parseAttrs({})), [-(Math.log(0.75) + Math.log(0.5)) / 2]);
    // torch: F.nll_loss([0.5, -1, 2], 1) → 1.0
    expectClose(nllLoss.forward([t64([3], [0.5, -1, 2]), t64([], [1])], nllLoss.parseAttrs({})), [1]);
    // torch: F.nll_loss(x3, [[2, 0], [0, 1]]) → -0.825
    const x3 = t64([2, 3, 2], [0.1, 1.0, 0.2, -1.0, 0.3, 0.5, 2.0, 0.0, -0.5, 0.0, 1.0, 0.0]);
    expectClose(nllLoss.forward([x3, t64([2, 2], [2, 0, 0, 1])], nllLoss.parseAttrs({})), [-0.825]);
  });

  it('puts −1/N at the target classes and gives the indices no gradient', () => {
    const attrs = nllLoss.parseAttrs({});
    const [gx, gt] = nllLoss.vjp([x, t], nllLoss.forward([x, t], attrs), scalar(1, 'float64'), attrs);
    const third = -1 / 3;
    expectClose(gx!, [0, 0, 0, third, 0, third, 0, 0, third, 0, 0, 0]);
    expect(gt).toBeNull();
    expect(nllLoss.nonDifferentiable).toEqual([1, 2]);
  });

  it('throws ShapeError unless the target holds one class index per sample', () => {
    const attrs = nllLoss.parseAttrs({});
    expect(nllLoss.shape([[3, 4], [3]], attrs)).toEqual([]);
    expect(() => nllLoss.shape([[3, 4], [3, 4]], attrs)).toThrow(ShapeError);
    expect(() => nllLoss.shape([[3, 4], [4]], attrs)).toThrow(
      'nll_loss: for a prediction of shape [3, 4] ([C], [N, C] or [N, C, d1, ...]) the target must be class indices of shape [3], got [4]',
    );
    expect(() => nllLoss.shape([[], []], attrs)).toThrow(ShapeError);
  });

  it('throws OpValueError for class indices that are not integers in [0, C)', () => {
    const attrs = nllLoss.parseAttrs({});
    expect(() => nllLoss.forward([x, t64([3], [0, 0, 4])], attrs)).toThrow(
      new OpValueError('nll_loss: class index 4 at target[2] is out of range [0, 4) and is not ignoreIndex -100', 1),
    );
    expect(() => nllLoss.forward([x, t64([3], [0.5, 0, 0])], attrs)).toThrow('nll_loss: target[0] = 0.5 is not an integer class index');
  });

  it('skips targets equal to ignoreIndex and weighs classes, normalizing a mean by the weight taken, as PyTorch', () => {
    const w = t64([4], [0.5, 2.0, 1.0, 3.0]);
    const run = (inputs: Tensor[], raw: unknown) => {
      const attrs = nllLoss.parseAttrs(raw);
      const loss = nllLoss.forward(inputs, attrs);
      return { loss, grads: nllLoss.vjp(inputs, loss, scalar(1, 'float64'), attrs) };
    };
    // torch: F.nll_loss(x, [3, -100, 0]) = 0 (= −(2 − 2)/2); with weight w and [3, 1, 0] = −2
    const ignored = run([x, t64([3], [3, -100, 0])], {});
    expectClose(ignored.loss, [0]);
    expectClose(ignored.grads[0]!, [0, 0, 0, -0.5, 0, 0, 0, 0, -0.5, 0, 0, 0]);
    const weighted = run([x, t, w], {});
    expectClose(weighted.loss, [-2]);
    expectClose(weighted.grads[0]!, [0, 0, 0, -0.5454545454545454, 0, -0.36363636363636365, 0, 0, -0.09090909090909091, 0, 0, 0]);
    expect(weighted.grads.slice(1)).toEqual([null, null]);
    // torch: weight w, ignore_index=7, sum → −5
    const summed = run([x, t64([3], [3, 7, 0]), w], { ignoreIndex: 7, reduction: 'sum' });
    expectClose(summed.loss, [-5]);
    expectClose(summed.grads[0]!, [0, 0, 0, -3, 0, 0, 0, 0, -0.5, 0, 0, 0]);
    // every target ignored: a mean of nothing is NaN, the gradient 0, as torch
    const none = run([x, t64([3], [-100, -100, -100])], {});
    expect(none.loss.data[0]).toBeNaN();
    expectClose(none.grads[0]!, new Array(12).fill(0));
    expect(() => nllLoss.forward([x, t64([3], [3, -100, 0])], nllLoss.parseAttrs({ ignoreIndex: 1 }))).toThrow(
      'nll_loss: class index -100 at target[1] is out of range [0, 4) and is not ignoreIndex 1',
    );
  });

  it('takes class weights of shape [C] only', () => {
    const attrs = nllLoss.parseAttrs({});
    expect(nllLoss.shape([[3, 4], [3], [4]], attrs)).toEqual([]);
    expect(() => nllLoss.shape([[3, 4], [3], [3]], attrs)).toThrow(
      new ShapeError('nll_loss: the class weight must have shape [4] (one per class), got [3]', 2),
    );
    expect(() => nllLoss.shape([[3, 4], [3], [1, 4]], attrs)).toThrow(ShapeError);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(nllLoss, [rand([3, 4], 3), t64([3], [1, -100, 2]), t64([4], [0.5, 2, 1, 3])]);
    checkVjp(nllLoss, [rand([2, 3, 2], 4), t64([2, 2], [2, 5, 0, 2]), t64([3], [1, 2, 0.25])], { ignoreIndex: 5, reduction: 'sum' });
    checkVjp(nllLoss, [rand([3, 4], 1), t]);
    checkVjp(nllLoss, [rand([2, 3, 2], 2), t64([2, 2], [2, 0, 0, 2])], { reduction: 'sum' });
  });
});
