import { z } from 'zod';
import { perElement } from '../op.js';
import { pointwiseLoss, ReductionSchema } from './shared/loss.js';

// NOTE: with d = prediction − target the term is ½d² for |d| < δ and δ(|d| − ½δ) beyond; both pieces
// and their slopes (d and ±δ) meet at |d| = δ, so the derivative there is d = ±δ from either side.
const slope = (d: number, delta: number): number => (d > delta ? delta : d < -delta ? -delta : d);

export const huberLoss = pointwiseLoss({
  name: 'huber_loss',
  summary: 'Huber loss: mean (or sum) over all elements of ½d² where |d| < δ and δ(|d| − ½δ) elsewhere, d = prediction − target; a scalar',
  derivative: '∂L/∂prediction = clamp(d, −δ, δ)/n, ∂L/∂target = −clamp(d, −δ, δ)/n (n = element count for mean, 1 for sum)',
  flops: perElement(16),
  attrs: z.strictObject({
    reduction: ReductionSchema,
    delta: z.number().positive().default(1).describe('δ > 0: where the loss turns from quadratic to linear (PyTorch default 1)'),
  }),
  term: (p, t, { delta }) => {
    const a = Math.abs(p - t);
    return a < delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
  },
  dPrediction: (p, t, { delta }) => slope(p - t, delta),
  dTarget: (p, t, { delta }) => -slope(p - t, delta),
});
