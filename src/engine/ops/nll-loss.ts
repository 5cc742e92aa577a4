import { z } from 'zod';
import { defineOp } from '../op.js';
import { like } from '../tensor.js';
import { checkClassIndices, classLayout } from './shared/classes.js';
import { reduced, ReductionSchema, termScale } from './shared/loss.js';

const NAME = 'nll_loss';

export const nllLoss = defineOp({
  name: NAME,
  arity: 2,
  attrs: z.strictObject({ reduction: ReductionSchema }),
  summary: 'negative log-likelihood: mean (or sum) over samples of −prediction[n, target[n]], where prediction holds log-probabilities [N, C] (also [C] or [N, C, d1, ...]) and target class indices; a scalar',
  derivative: '∂L/∂prediction[n, c] = −1/m where c = target[n], else 0 (m = number of samples for mean, 1 for sum); class indices take no gradient',
  nonDifferentiable: [1],
  shape: ([p, t]) => {
    classLayout(NAME, p!, t!, false);
    return [];
  },
  forward: ([p, t], { reduction }) => {
    const { samples, classes, inner } = classLayout(NAME, p!.shape, t!.shape, false);
    checkClassIndices(NAME, t!, classes);
    let total = 0;
    forEachPick(samples, classes, inner, t!.data, (at) => (total -= p!.data[at]!));
    return reduced(total, samples * inner, reduction, p!);
  },
  vjp: ([p, t], _out, g, { reduction }) => {
    const { samples, classes, inner } = classLayout(NAME, p!.shape, t!.shape, false);
    const k = termScale(g, samples * inner, reduction);
    const gp = like(p!);
    forEachPick(samples, classes, inner, t!.data, (at) => (gp.data[at] = -k));
    return [gp, null];
  },
});

/** Calls `visit` with the offset of prediction[n, target[n, k], k] for every sample n and position k. */
function forEachPick(samples: number, classes: number, inner: number, target: ArrayLike<number>, visit: (at: number) => void): void {
  for (let n = 0; n < samples; n++) {
    for (let k = 0; k < inner; k++) visit((n * classes + target[n * inner + k]!) * inner + k);
  }
}
