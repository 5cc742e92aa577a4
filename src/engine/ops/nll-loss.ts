import { z } from 'zod';
import { defineOp } from '../op.js';
import { like } from '../tensor.js';
import { checkClassTargets, checkClassWeight, classLayout, classWeightSum, IgnoreIndexSchema, type ClassLayout } from './shared/classes.js';
import { reduced, ReductionSchema, termScale } from './shared/loss.js';

const NAME = 'nll_loss';

export const nllLoss = defineOp({
  name: NAME,
  arity: [2, 3],
  attrs: z.strictObject({ reduction: ReductionSchema, ignoreIndex: IgnoreIndexSchema }),
  summary: 'negative log-likelihood: −Σ_n w[t_n]·prediction[n, t_n] over the samples whose class index t_n is not ignoreIndex, divided by Σ_n w[t_n] for mean (NaN when every sample is ignored, as torch); prediction holds log-probabilities [N, C] (also [C] or [N, C, d1, ...]), the optional third input w [C] class weights (1 without); a scalar',
  derivative: '∂L/∂prediction[n, c] = −w[c]/m where c = target[n] is not ignoreIndex, else 0 (m = Σ_n w[t_n] over the samples not ignored for mean, 1 for sum); the class indices and the weights take no gradient',
  nonDifferentiable: [1, 2],
  shape: ([p, t, w]) => {
    checkClassWeight(NAME, classLayout(NAME, p!, t!, false), w);
    return [];
  },
  forward: ([p, t, w], { reduction, ignoreIndex }) => {
    const layout = classLayout(NAME, p!.shape, t!.shape, false);
    checkClassTargets(NAME, t!, layout.classes, ignoreIndex);
    let total = 0;
    forEachPick(layout, t!.data, ignoreIndex, (at, c) => (total -= (w ? w.data[c]! : 1) * p!.data[at]!));
    return reduced(total, classWeightSum(t!, w, ignoreIndex), reduction, p!);
  },
  vjp: ([p, t, w], _out, g, { reduction, ignoreIndex }) => {
    const layout = classLayout(NAME, p!.shape, t!.shape, false);
    const k = termScale(g, classWeightSum(t!, w, ignoreIndex), reduction);
    const gp = like(p!);
    forEachPick(layout, t!.data, ignoreIndex, (at, c) => (gp.data[at] = -k * (w ? w.data[c]! : 1)));
    return w ? [gp, null, null] : [gp, null];
  },
});

/** Calls `visit` with the offset of prediction[n, c, k] and c = target[n, k], for every target that is not ignored. */
function forEachPick({ samples, classes, inner }: ClassLayout, target: ArrayLike<number>, ignoreIndex: number, visit: (at: number, c: number) => void): void {
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) {
      const c = target[n * inner + k]!;
      if (c !== ignoreIndex) visit((n * classes + c) * inner + k, c);
    }
  }
}
