import { z } from 'zod';
import { defineOp } from '../op.js';
import { formatShape, ShapeError, size, type Shape } from '../tensor.js';
import { normForward, normVjp, type NormGroups } from './norm-groups.js';

export const BatchnormAttrsSchema = z.strictObject({
  eps: z.number().positive().default(1e-5).describe('added to the (biased) batch variance before the square root'),
});

// x is [N, C, ...]: channel c is the group of every element whose index on axis 1 is c.
function groups([x, w, b]: Shape[]): NormGroups {
  if (x!.length < 2) throw new ShapeError(`batchnorm needs an input [N, C] or [N, C, ...], got ${formatShape(x!)}`, 0);
  const [n, c] = x as [number, number];
  const s = size(x!.slice(2));
  if (n * s <= 1) {
    throw new ShapeError(`batchnorm: expected more than 1 value per channel when training, got input ${formatShape(x!)}`, 0);
  }
  [w, b].forEach((p, k) => {
    if (p && !(p.length === 1 && p[0] === c)) {
      const what = k === 0 ? 'weight' : 'bias';
      throw new ShapeError(`batchnorm: ${what} ${formatShape(p)} must be [${c}], one per channel of x ${formatShape(x!)}`, k + 1);
    }
  });
  return { count: c, blocks: n, inner: s, groupStride: s, blockStride: c * s, perGroup: true };
}

export const batchnorm = defineOp({
  name: 'batchnorm',
  arity: [1, 3],
  attrs: BatchnormAttrsSchema,
  summary: 'batch normalization with training-mode batch statistics per channel (axis 1), then optional weight and bias (F.batch_norm, training=True)',
  derivative: '∂L/∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per channel, x̂ = (x − μ)·r, r = 1/√(σ² + eps), ĝ = g·w; ∂L/∂w = Σ g·x̂; ∂L/∂b = Σ g',
  shape: (inputs) => {
    groups(inputs); // throws when the shapes do not fit
    return [...inputs[0]!];
  },
  forward: (inputs, { eps }) => normForward(inputs, groups(inputs.map((t) => t.shape)), eps),
  vjp: (inputs, _out, g, { eps }) => normVjp(inputs, g, groups(inputs.map((t) => t.shape)), eps),
});
