import { z } from 'zod';
import { defineOp, type OpSpec } from '../op.js';
import { dtypeOf, empty, formatShape, ShapeError, type Shape } from '../tensor.js';
import { broadcastMap } from './axes.js';

const AttrsSchema = z.strictObject({
  shape: z
    .array(z.number().int().min(-1))
    .max(8)
    .describe('the shape to broadcast to; -1 keeps that dimension of x; new dimensions go in front (torch.Tensor.expand / torch.broadcast_to)'),
});

/** The expanded shape by torch's rules: x's dims aligned right; a dim of 1 grows to any size, -1 keeps one. */
function expanded(name: string, x: Shape, shape: readonly number[]): number[] {
  const lead = shape.length - x.length;
  if (lead < 0) throw new ShapeError(`${name}: shape [${shape.join(', ')}] has fewer dimensions than the input ${formatShape(x)}`);
  return shape.map((d, k) => {
    const own = x[k - lead];
    if (own === undefined) {
      if (d === -1) throw new ShapeError(`${name}: -1 at dimension ${k} of [${shape.join(', ')}] is a new leading dimension, which has no size to keep (as torch)`);
      return d;
    }
    if (d === -1 || d === own) return own;
    if (own === 1) return d;
    throw new ShapeError(`${name}: dimension ${k} of the input ${formatShape(x)} is ${own}, not 1, so it cannot become ${d}`);
  });
}

export function expandSpec(name: string, summary: string): OpSpec<typeof AttrsSchema> {
  return {
    name,
    arity: 1,
    attrs: AttrsSchema,
    summary,
    derivative: '∂L/∂x = g summed over the dimensions that were broadcast',
    shape: ([x], { shape }) => expanded(name, x!, shape),
    forward: ([x], { shape }) => {
      const out = empty(expanded(name, x!.shape, shape), dtypeOf(x!));
      const map = broadcastMap(x!.shape, out.shape);
      for (let i = 0; i < map.length; i++) out.data[i] = x!.data[map[i]!]!;
      return out;
    },
    // the engine sums a gradient in the output's shape back to the input's
    vjp: (_inputs, _out, g) => [g],
  };
}

export const expand = defineOp(expandSpec('expand', 'x broadcast to a larger shape: size-1 dimensions repeated, new dimensions in front (torch.Tensor.expand, as a copy)'));
