import { z } from 'zod';
import { defineOp } from '../op.js';
import { like, type Tensor } from '../tensor.js';
import { checkClassIndices, classLayout, type ClassLayout } from './shared/classes.js';
import { reduced, ReductionSchema, termScale } from './shared/loss.js';

const NAME = 'cross_entropy_loss';

export const crossEntropyLoss = defineOp({
  name: NAME,
  arity: 2,
  attrs: z.strictObject({
    reduction: ReductionSchema,
    labelSmoothing: z.number().min(0).max(1).default(0)
      .describe('ε in [0, 1]: the target distribution q becomes (1 − ε)·q + ε/C, as in PyTorch (default 0)'),
  }),
  summary: 'cross-entropy of logits x [N, C] (also [C] or [N, C, d1, ...]) against class indices [N] or class probabilities [N, C]: mean (or sum) over samples of −Σ_c q_c·log_softmax(x)_c, q the one-hot or given target smoothed to (1 − ε)·q + ε/C; a scalar',
  derivative: '∂L/∂x_c = (s·softmax(x)_c − q_c)/m with s = Σ_c q_c (1 for class indices); ∂L/∂target_c = −(1 − ε)·log_softmax(x)_c/m for probability targets, none for class indices (m = number of samples, times d1·… if present, for mean; 1 for sum)',
  shape: ([x, t]) => {
    classLayout(NAME, x!, t!, true);
    return [];
  },
  forward: ([x, t], { reduction, labelSmoothing }) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    if (!layout.probabilities) checkClassIndices(NAME, t!, layout.classes);
    let total = 0;
    forEachSample(x!, t!, layout, labelSmoothing, (_at, logp, q) => {
      for (let c = 0; c < layout.classes; c++) total -= q[c]! * logp[c]!;
    });
    return reduced(total, layout.samples * layout.inner, reduction, x!);
  },
  vjp: ([x, t], _out, g, { reduction, labelSmoothing }) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    const { classes, inner } = layout;
    const k = termScale(g, layout.samples * inner, reduction);
    const gx = like(x!);
    const gt = layout.probabilities ? like(t!) : null;
    forEachSample(x!, t!, layout, labelSmoothing, (at, logp, q) => {
      let s = 0;
      for (let c = 0; c < classes; c++) s += q[c]!;
      for (let c = 0; c < classes; c++) {
        gx.data[at + c * inner] = k * (s * Math.exp(logp[c]!) - q[c]!);
        if (gt) gt.data[at + c * inner] = -k * (1 - labelSmoothing) * logp[c]!;
      }
    });
    return [gx, gt];
  },
});

/**
 * For every sample (and spatial position) gives the offset of its class 0, its log-softmax and its
 * smoothed target distribution q (one-hot for a class index).
 */
function forEachSample(
  x: Tensor,
  t: Tensor,
  { samples, classes, inner, probabilities }: ClassLayout,
  eps: number,
  visit: (at: number, logp: Float64Array, q: Float64Array) => void,
): void {
  const logp = new Float64Array(classes);
  const q = new Float64Array(classes);
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) {
      const at = n * classes * inner + k;
      // NOTE: log-sum-exp shifted by the largest logit: every exp is ≤ 1 and the sum ≥ 1, so logits
      // of any magnitude give finite log-probabilities.
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, x.data[at + c * inner]!);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(x.data[at + c * inner]! - max);
      const lse = max + Math.log(sum);
      for (let c = 0; c < classes; c++) {
        logp[c] = x.data[at + c * inner]! - lse;
        q[c] = (probabilities ? (1 - eps) * t.data[at + c * inner]! : 0) + eps / classes;
      }
      if (!probabilities) q[t.data[n * inner + k]!]! += 1 - eps;
      visit(at, logp, q);
    }
  }
}
