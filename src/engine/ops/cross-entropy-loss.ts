import { z } from 'zod';
import { Kept } from '../buffers.js';
import { backwardFollows, defineOp, perElement } from '../op.js';
import { expRowsF32, scaledSoftmaxRowsF32, scaleRowsF32 } from '../kernels/index.js';
import { emptyData, like, ShapeError, type Data, type Tensor } from '../tensor.js';
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

// NOTE (speed): with class indices and no smoothing on float32 [N, C], the forward pass keeps each row's
// e = exp(x − max) and Σe from the kernel beside its output, and the backward pass scales them into the
// gradient (scaleRowsF32: the bits of evaluating the softmax again), written over them, instead of a
// second pass of exponentials. As gelu's kept slope (gelu.ts, buffers.ts Kept): by the output, used only
// given that very x and t and ignoreIndex, and once.
const keptOf = new Kept<Tensor, { x: Data; t: Data; ignoreIndex: number; e: Float32Array; stats: Float64Array }>();

export const crossEntropyLoss = defineOp({
  name: NAME,
  arity: [2, 3],
  attrs: AttrsSchema,
  summary: 'cross-entropy of logits x [N, C] (also [C] or [N, C, d1, ...]) against class indices [N] or class probabilities [N, C], with optional class weights w [C] as a third input: Σ over samples of −Σ_c w_c·q_c·log_softmax(x)_c, q the one-hot or given target smoothed to (1 − ε)·q + ε/C; samples whose class index is ignoreIndex count for nothing; mean divides by Σ_n w[t_n] over the samples not ignored (class indices) or by the number of samples (probabilities), as torch; a scalar',
  derivative: '∂L/∂x_c = (s·softmax(x)_c − a_c)/m with a_c = w_c·q_c and s = Σ_c a_c; ∂L/∂target_c = −(1 − ε)·w_c·log_softmax(x)_c/m for probability targets; class indices and the weights take no gradient (m: the mean\'s denominator, 1 for sum)',
  flops: perElement(18),
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
    const { classes, inner, probabilities } = layout;
    if (!probabilities) checkClassTargets(NAME, t!, classes, attrs.ignoreIndex);
    const eps = attrs.labelSmoothing;
    const xd = x!.data;
    const keep = backwardFollows() && !probabilities && eps === 0 && layout.inner === 1 && xd instanceof Float32Array;
    const [e, stats] = keep ? [emptyF32(x!), new Float64Array(2 * layout.samples)] : [null, undefined];
    let total = 0;
    const simd = forEachSample(x!, t!, layout, attrs.ignoreIndex, e, stats, (at, lse, _e, _inv, cls) => {
      if (probabilities) {
        // NOTE: a class of target weight 0 adds nothing, even at log_softmax = −∞ (0·log 0 = 0)
        for (let c = 0; c < classes; c++) {
          const a = weightOf(w, c) * ((1 - eps) * t!.data[at + c * inner]! + eps / classes);
          if (a !== 0) total -= a * (xd[at + c * inner]! - lse);
        }
        return;
      }
      total -= (1 - eps) * weightOf(w, cls) * (xd[at + cls * inner]! - lse);
      if (eps !== 0) for (let c = 0; c < classes; c++) total -= (eps / classes) * weightOf(w, c) * (xd[at + c * inner]! - lse);
    });
    const out = reduced(total, denominator(t!, w, layout, attrs), attrs.reduction, x!);
    if (simd && e && stats) keptOf.keep(out, { x: xd, t: t!.data, ignoreIndex: attrs.ignoreIndex, e, stats });
    return out;
  },
  // ∂L/∂x_c = k·(s·p_c − a_c), a = w·q the weighted target distribution, s = Σ_c a_c
  vjp: ([x, t, w], out, g, attrs) => {
    const layout = classLayout(NAME, x!.shape, t!.shape, true);
    const { classes, inner, probabilities } = layout;
    const eps = attrs.labelSmoothing;
    const k = termScale(g, denominator(t!, w, layout, attrs), attrs.reduction);
    const xd = x!.data;
    const kept = keptOf.get(out);
    if (kept && kept.x === xd && kept.t === t!.data && kept.ignoreIndex === attrs.ignoreIndex) {
      keptOf.forget(out);
      if (softmaxTerm(x!, t!, layout, attrs.ignoreIndex, w, k, kept.e, kept.stats)) {
        const gk = { shape: [...x!.shape], data: kept.e };
        return w ? [gk, null, null] : [gk, null];
      }
    }
    const gx = like(x!);
    const gt = probabilities ? like(t!) : null;
    if (!probabilities && eps === 0 && softmaxTerm(x!, t!, layout, attrs.ignoreIndex, w, k, gx.data)) return w ? [gx, gt, null] : [gx, gt];
    // class indices: each row's exps straight into its gradient row, which the loop below rewrites in place
    const exps = inner !== 1 || !(gx.data instanceof Float32Array) ? null : probabilities ? emptyF32(x!) : gx.data;
    // Σ_c w_c, for the smoothing part of s with class-index targets
    let wsum = 0;
    for (let c = 0; c < classes; c++) wsum += weightOf(w, c);
    const base = eps / classes;
    forEachSample(x!, t!, layout, attrs.ignoreIndex, exps, undefined, (at, lse, e, inv, cls) => {
      // softmax(x)_c = e_c·inv
      const scale = k * inv;
      if (probabilities) {
        let s = 0;
        for (let c = 0; c < classes; c++) {
          const i = at + c * inner;
          const a = weightOf(w, c) * ((1 - eps) * t!.data[i]! + base);
          s += a;
          gx.data[i] = -k * a;
          gt!.data[i] = -k * (1 - eps) * weightOf(w, c) * (xd[i]! - lse);
        }
        for (let c = 0; c < classes; c++) gx.data[at + c * inner] += scale * s * e[c]!;
        return;
      }
      const wy = (1 - eps) * weightOf(w, cls);
      const s = scale * (wy + base * wsum);
      const [gd, kb] = [gx.data, k * base];
      if (w) for (let c = 0, i = at; c < classes; c++, i += inner) gd[i] = s * e[c]! - kb * w.data[c]!;
      else for (let c = 0, i = at; c < classes; c++, i += inner) gd[i] = s * e[c]! - kb;
      gd[at + cls * inner] -= k * wy;
    });
    return w ? [gx, gt, null] : [gx, gt];
  },
});

const weightOf = (w: Tensor | undefined, c: number): number => (w ? w.data[c]! : 1);

/**
 * Class indices without smoothing, float32 [N, C]: ∂L/∂x = k·w_t·(softmax(x) − onehot(t)), the first
 * term scaled row by row by the SIMD kernel into gx (rows of ignored samples 0); or, given the forward
 * pass's stats (each row's max and Σe at 2i, 2i + 1), gx holding its rows' e, scaled in place. False when
 * declined.
 */
function softmaxTerm(x: Tensor, t: Tensor, { samples, classes, inner }: ClassLayout, ignoreIndex: number, w: Tensor | undefined, k: number, gx: Data, stats?: Float64Array): boolean {
  if (inner !== 1 || !(x.data instanceof Float32Array) || !(gx instanceof Float32Array)) return false;
  const scales = new Float64Array(samples);
  for (let n = 0; n < samples; n++) scales[n] = t.data[n] === ignoreIndex ? 0 : k * weightOf(w, t.data[n]!);
  // the kernel's factor scale/Σe, from the same float64 division
  const done = stats ? scaleRowsF32(gx, samples, classes, scales.map((s, n) => s / stats[2 * n + 1]!)) : scaledSoftmaxRowsF32(x.data, samples, classes, scales, gx);
  if (!done) return false;
  for (let n = 0; n < samples; n++) {
    if (t.data[n] === ignoreIndex) gx.fill(0, n * classes, (n + 1) * classes);
    else gx[n * classes + t.data[n]!] -= scales[n]!;
  }
  return true;
}

const NO_EXPS = new Float32Array(0);
const emptyF32 = (x: Tensor): Float32Array => emptyData(x.data.length, 'float32') as Float32Array;

/** What a mean divides by: Σ w[t_n] over the class indices not ignored, or the number of probability rows. */
function denominator(t: Tensor, w: Tensor | undefined, layout: ClassLayout, { ignoreIndex }: Attrs): number {
  return layout.probabilities ? layout.samples * layout.inner : classWeightSum(t, w, ignoreIndex);
}

/**
 * For every sample (and spatial position) whose target is not ignored, gives the offset of its class 0,
 * lse = log Σ_c exp(x_c) (log_softmax(x)_c = x_c − lse), e_c = exp(x_c − max) and inv = 1 / Σ_c e_c
 * (softmax(x)_c = e_c·inv), and its class index (−1 for probability targets). Float32 rows of classes
 * (x [N, C]) take their exps and sums from the SIMD kernel, the exps written to `exps` (x's size; the
 * rows of ignored samples are zeroed there), or not kept when it is null (e then is empty), each row's
 * max and Σe to `stats` when given (2N float64); returns whether the kernel ran.
 */
function forEachSample(
  x: Tensor,
  t: Tensor,
  { samples, classes, inner, probabilities }: ClassLayout,
  ignoreIndex: number,
  exps: Float32Array | null,
  kept: Float64Array | undefined,
  visit: (at: number, lse: number, e: Data, inv: number, cls: number) => void,
): boolean {
  const xd = x.data;
  const stats = inner === 1 && xd instanceof Float32Array ? (kept ?? new Float64Array(2 * samples)) : null;
  if (stats && expRowsF32(xd as Float32Array, samples, classes, exps, stats)) {
    for (let n = 0; n < samples; n++) {
      const cls = probabilities ? -1 : t.data[n]!;
      if (cls === ignoreIndex) {
        exps?.fill(0, n * classes, (n + 1) * classes);
        continue;
      }
      const [max, sum] = [stats[2 * n]!, stats[2 * n + 1]!];
      visit(n * classes, max + Math.log(sum), exps ? exps.subarray(n * classes, (n + 1) * classes) : NO_EXPS, 1 / sum, cls);
    }
    return true;
  }
  const e = new Float64Array(classes);
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) {
      const at = n * classes * inner + k;
      const cls = probabilities ? -1 : t.data[n * inner + k]!;
      if (cls === ignoreIndex) continue;
      // NOTE: log-sum-exp shifted by the largest logit: every exp is ≤ 1 and the sum ≥ 1, so logits
      // of any magnitude give finite log-probabilities.
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, xd[at + c * inner]!);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += e[c] = Math.exp(xd[at + c * inner]! - max);
      visit(at, max + Math.log(sum), e, 1 / sum, cls);
    }
  }
  return false;
}
