import { defineOp } from '../op.js';
import { dtypeOf, zeros } from '../tensor.js';
import { reducedShape, ReduceAttrsSchema, reduceSum, spreadBack } from './axes.js';

export const sum = defineOp({
  name: 'sum',
  arity: 1,
  attrs: ReduceAttrsSchema,
  summary: 'Σ over the given axes, or over all (torch.sum)',
  derivative: '∂L/∂x = g copied back over the reduced axes',
  shape: ([x], attrs) => reducedShape(x!, attrs).shape,
  forward: ([x], attrs) => {
    const { shape, acc } = reduceSum(x!, attrs);
    const out = zeros(shape, dtypeOf(x!));
    out.data.set(acc);
    return out;
  },
  vjp: ([x], _out, g, attrs) => [spreadBack(x!, g, attrs, 1)],
});
