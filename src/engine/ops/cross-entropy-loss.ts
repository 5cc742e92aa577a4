import { z } from 'zod';
import { defineOp } from '../op.js';
import { like, ShapeError, type Tensor } from '../tensor.js';
import { checkClassTargets, checkClassWeight, classLayout, classWeightSum, IgnoreIndexSchema, type ClassLayout } from './shared/classes.js';
import { reduced, ReductionSchema, termScale } from './shared/loss.js';

const NAME = 'cross_entropy_loss';

const AttrsSchema = z.strictObject({
  reduction: ReductionSchema,
  labelSmoothing: z.number().min(0).max(1).default(0)
    .describe('ε in [0, 1]: the target distribution q becomes (1 − ε)·q + ε/C, as in PyTorch (default 0)'),
  ignoreIndex: IgnoreIndexSchema,
});
type Attrs = z.output<typeof AttrsSchema>;

export const crossEntropyLoss = defineOp({
  name: NAME,
  arity: [2, 3],
  attrs: AttrsSchema,
  summary: 'cross-entropy of logits x [N, C] (also [C] or [N, C, d1, ...]) against class indices [N] or class probabilities [N, C], with optional class weights w [C] as a third input: Σ over samples of −Σ_c w_c·q_c·log_softmax(x)_c, q the one-hot or given target smoothed to (1 − ε)·q + ε/C; samples whose class index is ignoreIndex count for nothing; mean divides by Σ_n w[t_n] over the samples not ignored (class indices) or by the number of samples (probabilities), as torch; a scalar',
  derivative: '∂L/∂x_c = (s·softmax(x)_c − a_c)/m with a_c = w_c·q_c and s = Σ_c a_c; ∂L/∂target_c = −(1 − ε)·w_c·log_softmax(x)_c/m for probability targets; class indices and the weights take no gradient (m: the mean\'s denominator, 1 for sum)',
  nonDifferentiable: [2],
  shape: ([x, t, w], { ignoreIndex }) => {
    const layout = classLayout(NAME, x!, t!, true);
    checkClassWeight(NAME, layout, w);
    if (layout.probabilities && ignoreIndex >= 0) {
      throw new ShapeError(`${NAME}: ignoreIndex ${ignoreIndex} needs class-index targets, these are class probabilities (as torch)`, 1);
    }
    return [];
  },
  forward: ([x, t, w], attrs) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    if (!layout.probabilities) checkClassTargets(NAME, t!, layout.classes, attrs.ignoreIndex);
    let total = 0;
    forEachSample(x!, t!, w, layout, attrs, (_at, logp, _p, a) => {
      // NOTE: a class with no target weight adds nothing, even at log_softmax = −∞ (0·log 0 = 0)
      for (let c = 0; c < layout.classes; c++) if (a[c] !== 0) total -= a[c]! * logp[c]!;
    });
    return reduced(total, denominator(t!, w, layout, attrs), attrs.reduction, x!);
  },
  vjp: ([x, t, w], _out, g, attrs) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    const { classes, inner } = layout;
    const k = termScale(g, denominator(t!, w, layout, attrs), attrs.reduction);
    const gx = like(x!);
    const gt = layout.probabilities ? like(t!) : null;
    forEachSample(x!, t!, w, layout, attrs, (at, logp, p, a) => {
      let s = 0;
      for (let c = 0; c < classes; c++) s += a[c]!;
      for (let c = 0; c < classes; c++) gx.data[at + c * inner] = k * (s * p[c]! - a[c]!);
      if (gt) for (let c = 0; c < classes; c++) gt.data[at + c * inner] = -k * (1 - attrs.labelSmoothing) * (w ? w.data[c]! : 1) * logp[c]!;
    });
    return w ? [gx, gt, null] : [gx, gt];
  },
});

/** What a mean divides by: Σ w[t_n] over the class indices not ignored, or the number of probability rows. */
function denominator(t: Tensor, w: Tensor | undefined, layout: ClassLayout, { ignoreIndex }: Attrs): number {
  return layout.probabilities ? layout.samples * layout.inner : classWeightSum(t, w, ignoreIndex);
}

/**
 * For every sample (and spatial position) whose target is not ignored, gives the offset of its class 0,
 * its log-softmax, its softmax p, and a = w·q: its target distribution q (one-hot or given, smoothed)
 * times the class weights.
 */
function forEachSample(
  x: Tensor,
  t: Tensor,
  w: Tensor | undefined,
  { samples, classes, inner, probabilities }: ClassLayout,
  { labelSmoothing: eps, ignoreIndex }: Attrs,
  visit: (at: number, logp: Float64Array, p: Float64Array, a: Float64Array) => void,
): void {
  const logp = new Float64Array(classes);
  const p = new Float64Array(classes);
  const a = new Float64Array(classes);
  const xd = x.data;
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) {
      const at = n * classes * inner + k;
      const cls = probabilities ? -1 : t.data[n * inner + k]!;
      if (!probabilities && cls === ignoreIndex) continue;
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
        const q = probabilities ? (1 - eps) * t.data[at + c * inner]! : c === cls ? 1 - eps : 0;
        a[c] = (w ? w.data[c]! : 1) * (q + eps / classes);
      }
      visit(at, logp, p, a);
    }
  }
}
