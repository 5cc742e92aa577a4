import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, zeros, type Shape } from '../tensor.js';
import { axisOf, copyAlongAxis, lanes } from './axes.js';

export const SliceAttrsSchema = z.strictObject({
  axis: z.number().int().default(0).describe('axis to slice (negative counts from the end); 0 as in x[start:end]'),
  start: z.number().int().default(0).describe('first index kept; negative counts from the end; clamped to the axis'),
  end: z
    .number()
    .int()
    .optional()
    .describe('one past the last index kept; negative counts from the end; clamped; omit for the end of the axis'),
});
type SliceAttrs = z.infer<typeof SliceAttrsSchema>;

// NOTE: Python/torch slicing never fails on out-of-range bounds: they are clamped, and end ≤ start
// gives an empty axis (size 0), e.g. x[5:2] or x[-100:1].
function window(shape: Shape, { axis, start, end }: SliceAttrs) {
  const a = axisOf(axis, shape);
  const d = shape[a]!;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
  const s = clamp(start);
  const len = Math.max(clamp(end ?? d) - s, 0);
  return { a, d, s, len, shape: shape.map((x, j) => (j === a ? len : x)), ...lanes(shape, a) };
}

export const slice = defineOp({
  name: 'slice',
  arity: 1,
  attrs: SliceAttrsSchema,
  summary: 'x[start:end] along one axis, step 1, with Python/torch index semantics',
  derivative: '∂L/∂x = g in the sliced window, 0 elsewhere',
  shape: ([x], attrs) => window(x!, attrs).shape,
  forward: ([x], attrs) => {
    const w = window(x!.shape, attrs);
    const out = zeros(w.shape, dtypeOf(x!));
    copyAlongAxis(x!.data, w.d, w.s, out.data, w.len, 0, w.len, w.outer, w.inner);
    return out;
  },
  vjp: ([x], _out, g, attrs) => {
    const w = window(x!.shape, attrs);
    const gx = zeros(x!.shape, dtypeOf(g));
    copyAlongAxis(g.data, w.len, 0, gx.data, w.d, w.s, w.len, w.outer, w.inner);
    return [gx];
  },
});
