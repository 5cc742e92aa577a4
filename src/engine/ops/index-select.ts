import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, formatShape, like, ShapeError, type Shape } from '../tensor.js';
import { lanes } from './axes.js';
import { checkIndices } from './shared/indices.js';

const NAME = 'index_select';

/** The [outer, dim, inner] view of x around the axis, the number of indices and the output shape. */
function layout(x: Shape, index: Shape, axis: number) {
  if (index.length > 1) throw new ShapeError(`${NAME}: index must be a vector (or a scalar), got ${formatShape(index)}`, 1);
  const l = lanes(x, axis);
  const count = index[0] ?? 1;
  if (x.length === 0 && count !== 1) throw new ShapeError(`${NAME}: a 0-d input has one element to select, got ${count} indices`, 1);
  return { ...l, count, shape: x.length === 0 ? [] : x.map((d, k) => (k === l.axis ? count : d)) };
}

export const indexSelect = defineOp({
  name: NAME,
  arity: 2,
  attrs: z.strictObject({
    axis: z.number().int().describe('the axis to select along (negative counts from the end); torch.index_select\'s dim, required as there'),
  }),
  summary: 'the slices of x at the given integer positions along one axis, in the order given, repeats allowed: that axis becomes as long as index (torch.index_select)',
  derivative: '∂L/∂x = each slice of g added back to the slice of x it was taken from (repeats add up); the indices take no gradient',
  nonDifferentiable: [1],
  shape: ([x, index], { axis }) => layout(x!, index!, axis).shape,
  forward: ([x, index], { axis }) => {
    const { outer, dim, inner, count, shape } = layout(x!.shape, index!.shape, axis);
    checkIndices(NAME, index!, { input: 1, label: 'index', what: 'index', n: dim });
    const out = empty(shape, dtypeOf(x!));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const s = (o * dim + index!.data[j]!) * inner;
        out.data.set(x!.data.subarray(s, s + inner), (o * count + j) * inner);
      }
    }
    return out;
  },
  vjp: ([x, index], _out, g, { axis }) => {
    const { outer, dim, inner, count } = layout(x!.shape, index!.shape, axis);
    const gx = like(x!);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const d = (o * dim + index!.data[j]!) * inner;
        const s = (o * count + j) * inner;
        for (let k = 0; k < inner; k++) gx.data[d + k] += g.data[s + k]!;
      }
    }
    return [gx, null];
  },
});
