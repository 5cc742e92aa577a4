import { z } from 'zod';
import { defineOp } from '../op.js';
import type { Shape } from '../tensor.js';
import { axisOf } from './axes.js';

export const SqueezeAttrsSchema = z.strictObject({
  axis: z
    .number()
    .int()
    .optional()
    .describe('axis to drop if its size is 1 (a no-op otherwise, as torch.squeeze); omit to drop every size-1 axis'),
});

function squeezed(shape: Shape, axis: number | undefined): number[] {
  if (axis === undefined) return shape.filter((d) => d !== 1);
  // torch accepts axis 0 / -1 on a 0-d tensor
  const a = axisOf(axis, shape, Math.max(shape.length, 1));
  return shape.filter((d, i) => i !== a || d !== 1);
}

export const squeeze = defineOp({
  name: 'squeeze',
  arity: 1,
  attrs: SqueezeAttrsSchema,
  summary: 'removes size-1 axes (torch.squeeze)',
  derivative: '∂L/∂x = g reshaped to the shape of x',
  shape: ([x], { axis }) => squeezed(x!, axis),
  forward: ([x], { axis }) => ({ shape: squeezed(x!.shape, axis), data: x!.data.slice() }),
  vjp: ([x], _out, g) => [{ shape: [...x!.shape], data: g.data.slice() }],
});
