import { z } from 'zod';
import { pointwiseLoss, ReductionSchema } from './shared/loss.js';

export const mseLoss = pointwiseLoss({
  name: 'mse_loss',
  summary: 'mean squared error: mean (or sum) over all elements of (prediction − target)²; a scalar',
  derivative: '∂L/∂prediction = 2(prediction − target)/n, ∂L/∂target = −2(prediction − target)/n (n = element count for mean, 1 for sum)',
  attrs: z.strictObject({ reduction: ReductionSchema }),
  term: (p, t) => (p - t) * (p - t),
  dPrediction: (p, t) => 2 * (p - t),
  dTarget: (p, t) => -2 * (p - t),
});
