import { z } from 'zod';
import { OpValueError } from '../op.js';
import { formatElement, type Tensor } from '../tensor.js';
import { formatIndex, pointwiseLoss, ReductionSchema } from './shared/loss.js';

// NOTE: PyTorch clamps both logarithms at −100 so that a prediction of exactly 0 or 1 gives a finite
// loss (at most 100 per element), and divides by max(p(1 − p), ε) in the prediction's gradient, where
// its ε is the C++ `float` 1e-12 (9.999999960041972e-13), in float64 too: at p = 0, t = 1 the gradient
// is −1.0000000039958e12, not −1e12.
const EPSILON = Math.fround(1e-12);
const clampedLog = (v: number): number => Math.max(Math.log(v), -100);
const clampedLog1m = (p: number): number => Math.max(Math.log1p(-p), -100);

function checkProbabilities(x: Tensor, what: string, input: number): void {
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!(v >= 0 && v <= 1)) {
      throw new OpValueError(`bce_loss: ${what}${formatIndex(i, x.shape)} = ${formatElement(d, i)} is outside [0, 1]`, input);
    }
  }
}

export const bceLoss = pointwiseLoss({
  name: 'bce_loss',
  summary: 'binary cross-entropy of probabilities: mean (or sum) over all elements of −[t·log p + (1 − t)·log(1 − p)], each log clamped at −100 as in PyTorch; p and t must lie in [0, 1]; a scalar',
  derivative: '∂L/∂p = (p − t) / max(p(1 − p), ε) / n (ε = float32 1e-12, as PyTorch), ∂L/∂t = (log(1 − p) − log p) / n with the logs clamped at −100 (n = element count for mean, 1 for sum)',
  attrs: z.strictObject({ reduction: ReductionSchema }),
  check: (p, t) => {
    checkProbabilities(p, 'prediction', 0);
    checkProbabilities(t, 'target', 1);
  },
  term: (p, t) => (t - 1) * clampedLog1m(p) - t * clampedLog(p),
  dPrediction: (p, t) => (p - t) / Math.max((1 - p) * p, EPSILON),
  // NOTE: PyTorch returns −logit(p) unclamped, ±inf at p = 0 or 1; we return the derivative of the
  // clamped loss actually computed, which equals PyTorch's wherever both logs are above −100.
  dTarget: (p) => clampedLog1m(p) - clampedLog(p),
});
