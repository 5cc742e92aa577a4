import { z } from 'zod';
import { defineOp } from '../op.js';
import { broadcastShapes, dtypeOf, empty, like } from '../tensor.js';
import { broadcastMap } from './axes.js';
import { truth } from './where.js';

export const maskedFill = defineOp({
  name: 'masked_fill',
  arity: 2,
  attrs: z.strictObject({
    value: z
      .union([z.number(), z.enum(['inf', '-inf'])])
      .transform((v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v))
      .describe('the value written where mask is true: a number, or "-inf" / "inf" (JSON has no infinities), e.g. "-inf" before a softmax'),
  }),
  summary: 'x with value written where mask is nonzero, the two broadcast together (torch.masked_fill(x, mask, value))',
  derivative: '∂L/∂x = g where mask is false, 0 where it is true; mask takes no gradient',
  nonDifferentiable: [1],
  shape: ([x, m]) => broadcastShapes(x!, m!),
  forward: ([x, m], { value }) => {
    const shape = broadcastShapes(x!.shape, m!.shape);
    const out = empty(shape, dtypeOf(x!));
    const on = truth(m!, shape);
    const mx = broadcastMap(x!.shape, shape);
    for (let i = 0; i < on.length; i++) out.data[i] = on[i] ? value : x!.data[mx[i]!]!;
    return out;
  },
  vjp: ([, m], _out, g) => {
    const on = truth(m!, g.shape);
    const gx = like(g);
    for (let i = 0; i < on.length; i++) if (!on[i]) gx.data[i] = g.data[i]!;
    return [gx, null];
  },
});
