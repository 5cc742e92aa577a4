import { z } from 'zod';
import { defineOp } from '../op.js';
import type { Shape } from '../tensor.js';
import { axisOf } from './axes.js';

export const UnsqueezeAttrsSchema = z.strictObject({
  axis: z
    .number()
    .int()
    .describe('position of the new size-1 axis in the output, in [-rank-1, rank] (torch.unsqueeze; required as there)'),
});

function unsqueezed(shape: Shape, axis: number): number[] {
  const a = axisOf(axis, shape, shape.length + 1);
  return [...shape.slice(0, a), 1, ...shape.slice(a)];
}

export const unsqueeze = defineOp({
  name: 'unsqueeze',
  arity: 1,
  attrs: UnsqueezeAttrsSchema,
  summary: 'inserts a size-1 axis (torch.unsqueeze)',
  derivative: '∂L/∂x = g reshaped to the shape of x',
  shape: ([x], { axis }) => unsqueezed(x!, axis),
  forward: ([x], { axis }) => ({ shape: unsqueezed(x!.shape, axis), data: x!.data.slice() }),
  vjp: ([x], _out, g) => [{ shape: [...x!.shape], data: g.data.slice() }],
});
