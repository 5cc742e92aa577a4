import { z } from 'zod';
import { perElement } from '../op.js';
import { pointwiseLoss, ReductionSchema } from './shared/loss.js';

// NOTE: log(1 + e^−|x|) never overflows, and max(x, 0) − x·t + log(1 + e^−|x|) equals
// −[t·log σ(x) + (1 − t)·log(1 − σ(x))] for every x, so logits of any magnitude give finite results.
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

export const bceWithLogitsLoss = pointwiseLoss({
  name: 'bce_with_logits_loss',
  summary: 'binary cross-entropy on logits x (sigmoid folded in): mean (or sum) over all elements of max(x, 0) − x·t + log(1 + exp(−|x|)); a scalar',
  derivative: '∂L/∂x = (σ(x) − t)/n, ∂L/∂t = −x/n (σ = sigmoid; n = element count for mean, 1 for sum)',
  flops: perElement(24),
  attrs: z.strictObject({ reduction: ReductionSchema }),
  // PyTorch does not restrict the target here (soft labels of any value are accepted), so neither do we.
  term: (x, t) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))),
  dPrediction: (x, t) => sigmoid(x) - t,
  dTarget: (x) => -x,
});
