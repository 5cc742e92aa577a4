import { defineOp } from '../op.js';
import { dtypeOf, zeros } from '../tensor.js';
import { reducedShape, ReduceAttrsSchema, reduceSum, reduction } from './axes.js';

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
  vjp: ([x], _out, g, attrs) => {
    const gx = zeros(x!.shape, dtypeOf(g));
    // a sum of everything: g everywhere
    if (g.data.length === 1) {
      gx.data.fill(g.data[0]!);
      return [gx];
    }
    const { map } = reduction(x!, attrs);
    for (let i = 0; i < map.length; i++) gx.data[i] = g.data[map[i]!]!;
    return [gx];
  },
});
