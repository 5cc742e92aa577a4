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
    forEachSample(x!, t!, layout, labelSmoothing, (_at, logp, _p, q, cls) => {
      if (q) {
        for (let c = 0; c < layout.classes; c++) total -= q[c]! * logp[c]!;
      } else {
        // a class index: q is ε/C everywhere and 1 − ε more at the class
        let all = 0;
        if (labelSmoothing !== 0) for (let c = 0; c < layout.classes; c++) all += logp[c]!;
        total -= (1 - labelSmoothing) * logp[cls]! + (labelSmoothing / layout.classes) * all;
      }
    });
    return reduced(total, layout.samples * layout.inner, reduction, x!);
  },
  vjp: ([x, t], _out, g, { reduction, labelSmoothing }) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    const { classes, inner } = layout;
    const k = termScale(g, layout.samples * inner, reduction);
    const gx = like(x!);
    const gt = layout.probabilities ? like(t!) : null;
    const base = labelSmoothing / classes;
    forEachSample(x!, t!, layout, labelSmoothing, (at, logp, p, q, cls) => {
      if (!q) {
        // a class index: Σ_c q_c = 1
        for (let c = 0; c < classes; c++) gx.data[at + c * inner] = k * (p[c]! - base);
        gx.data[at + cls * inner] -= k * (1 - labelSmoothing);
        return;
      }
      let s = 0;
      for (let c = 0; c < classes; c++) s += q[c]!;
      for (let c = 0; c < classes; c++) {
        gx.data[at + c * inner] = k * (s * p[c]! - q[c]!);
        gt!.data[at + c * inner] = -k * (1 - labelSmoothing) * logp[c]!;
      }
    });
    return [gx, gt];
  },
});

/**
 * For every sample (and spatial position) gives the offset of its class 0, its log-softmax, its
 * softmax p, and either its smoothed target distribution q (probability targets) or its class index.
 */
function forEachSample(
  x: Tensor,
  t: Tensor,
  { samples, classes, inner, probabilities }: ClassLayout,
  eps: number,
  visit: (at: number, logp: Float64Array, p: Float64Array, q: Float64Array | null, cls: number) => void,
): void {
  const logp = new Float64Array(classes);
  const p = new Float64Array(classes);
  const q = probabilities ? new Float64Array(classes) : null;
  const xd = x.data;
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) {
      const at = n * classes * inner + k;
      // NOTE: log-sum-exp shifted by the largest logit: every exp is ≤ 1 and the sum ≥ 1, so logits
      // of any magnitude give finite log-probabilities.
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, xd[at + c * inner]!);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(xd[at + c * inner]! - max);
      const lse = max + Math.log(sum);
      for (let c = 0; c < classes; c++) {
        logp[c] = xd[at + c * inner]! - lse;
        p[c] = p[c]! / sum;
      }
      if (q) for (let c = 0; c < classes; c++) q[c] = (1 - eps) * t.data[at + c * inner]! + eps / classes;
      visit(at, logp, p, q, q ? -1 : t.data[n * inner + k]!);
    }
  }
}
