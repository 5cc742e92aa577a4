import { z } from 'zod';
import { defineOp } from '../op.js';
import { formatShape, sameShape, ShapeError, size, type Shape } from '../tensor.js';
import { axisOf } from './axes.js';
import { normForward, normVjp, type NormGroups } from './norm-groups.js';

export const LayernormAttrsSchema = z.strictObject({
  axis: z
    .number()
    .int()
    .default(-1)
    .describe('first normalized axis: statistics over axes axis…rank−1, i.e. normalized_shape = x.shape[axis:]'),
  eps: z.number().positive().default(1e-5).describe('added to the (biased) variance before the square root'),
});

function groups([x, w, b]: Shape[], axis: number): NormGroups {
  if (x!.length === 0) throw new ShapeError('layernorm needs an input of rank ≥ 1, got a 0-d tensor', 0);
  const norm = x!.slice(axisOf(axis, x!));
  [w, b].forEach((p, k) => {
    if (p && !sameShape(p, norm)) {
      const what = k === 0 ? 'weight' : 'bias';
      throw new ShapeError(`layernorm: ${what} ${formatShape(p)} must have the normalized shape ${formatShape(norm)} (x ${formatShape(x!)}, axis ${axis})`, k + 1);
    }
  });
  const d = size(norm);
  return { count: size(x!) / d, blocks: 1, inner: d, groupStride: d, blockStride: d, perGroup: false };
}

export const layernorm = defineOp({
  name: 'layernorm',
  arity: [1, 3],
  attrs: LayernormAttrsSchema,
  summary: 'layer normalization over the trailing axes from `axis`, then optional elementwise weight and bias (F.layer_norm)',
  derivative: '∂L/∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with x̂ = (x − μ)·r, r = 1/√(σ² + eps), ĝ = g·w; ∂L/∂w = Σ g·x̂; ∂L/∂b = Σ g',
  shape: (inputs, { axis }) => {
    groups(inputs, axis); // throws when the shapes do not fit
    return [...inputs[0]!];
  },
  forward: (inputs, { axis, eps }) => normForward(inputs, groups(inputs.map((t) => t.shape), axis), eps),
  vjp: (inputs, _out, g, { axis, eps }) => normVjp(inputs, g, groups(inputs.map((t) => t.shape), axis), eps),
});
