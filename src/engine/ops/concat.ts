import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, formatShape, ShapeError, zeros, type Shape } from '../tensor.js';
import { axisOf, copyAlongAxis, lanes } from './axes.js';

export const ConcatAttrsSchema = z.strictObject({
  axis: z.number().int().default(0).describe('axis to join along (torch.cat dim); negative counts from the end'),
});

function joined(shapes: Shape[], axis: number) {
  const first = shapes[0]!;
  if (first.length === 0) throw new ShapeError('concat: 0-d inputs cannot be concatenated', 0);
  const a = axisOf(axis, first);
  let total = 0;
  shapes.forEach((s, i) => {
    if (s.length !== first.length || s.some((d, j) => j !== a && d !== first[j])) {
      const list = shapes.map(formatShape).join(', ');
      throw new ShapeError(`concat along axis ${axis}: input ${i} ${formatShape(s)} does not match input 0 ${formatShape(first)} outside that axis (inputs ${list})`, i);
    }
    total += s[a]!;
  });
  const shape = first.map((d, j) => (j === a ? total : d));
  return { a, shape, ...lanes(shape, a) };
}

export const concat = defineOp({
  name: 'concat',
  arity: [1, 64],
  attrs: ConcatAttrsSchema,
  summary: 'joins the inputs along an existing axis (torch.cat)',
  derivative: '∂L/∂x_i = the slice of g that x_i occupies',
  shape: (shapes, { axis }) => joined(shapes, axis).shape,
  forward: (xs, { axis }) => {
    const { a, shape, outer, inner } = joined(xs.map((x) => x.shape), axis);
    const out = zeros(shape, dtypeOf(xs[0]!));
    let at = 0;
    for (const x of xs) {
      const d = x.shape[a]!;
      copyAlongAxis(x.data, d, 0, out.data, shape[a]!, at, d, outer, inner);
      at += d;
    }
    return out;
  },
  vjp: (xs, _out, g, { axis }) => {
    const { a, shape, outer, inner } = joined(xs.map((x) => x.shape), axis);
    let at = 0;
    return xs.map((x) => {
      const d = x.shape[a]!;
      const gx = zeros(x.shape, dtypeOf(g));
      copyAlongAxis(g.data, shape[a]!, at, gx.data, d, 0, d, outer, inner);
      at += d;
      return gx;
    });
  },
});
