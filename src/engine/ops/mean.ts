import { defineOp } from '../op.js';
import { dtypeOf, zeros } from '../tensor.js';
import { reducedShape, ReduceAttrsSchema, reduceSum, spreadBack } from './axes.js';

export const mean = defineOp({
  name: 'mean',
  arity: 1,
  attrs: ReduceAttrsSchema,
  summary: 'arithmetic mean over the given axes, or over all (torch.mean); NaN over an empty axis, as torch',
  derivative: '∂L/∂x = g / n copied back over the reduced axes, n = number of elements averaged',
  shape: ([x], attrs) => reducedShape(x!, attrs).shape,
  forward: ([x], attrs) => {
    const { shape, acc } = reduceSum(x!, attrs);
    const out = zeros(shape, dtypeOf(x!));
    const n = x!.data.length / out.data.length;
    for (let o = 0; o < acc.length; o++) out.data[o] = acc[o]! / n;
    return out;
  },
  vjp: ([x], _out, g, attrs) => [spreadBack(x!, g, attrs, x!.data.length / g.data.length)],
});
