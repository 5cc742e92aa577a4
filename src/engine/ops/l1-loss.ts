import { z } from 'zod';
import { pointwiseLoss, ReductionSchema } from './shared/loss.js';

// NOTE: |d| has no derivative at d = 0; like PyTorch (sign(0) = 0) we use the subgradient 0 there.
const sign = (d: number): number => (d > 0 ? 1 : d < 0 ? -1 : 0);

export const l1Loss = pointwiseLoss({
  name: 'l1_loss',
  summary: 'mean absolute error: mean (or sum) over all elements of |prediction − target|; a scalar',
  derivative: '∂L/∂prediction = sign(prediction − target)/n, ∂L/∂target = −sign(prediction − target)/n (sign(0) = 0; n = element count for mean, 1 for sum)',
  attrs: z.strictObject({ reduction: ReductionSchema }),
  term: (p, t) => Math.abs(p - t),
  dPrediction: (p, t) => sign(p - t),
  dTarget: (p, t) => -sign(p - t),
});
