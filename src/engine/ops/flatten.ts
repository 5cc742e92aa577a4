import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, ShapeError, size, type Shape, type Tensor } from '../tensor.js';
import { axisOf } from './axes.js';

export const FlattenAttrsSchema = z.strictObject({
  startDim: z.number().int().default(0).describe('first dim merged (negative counts from the end); torch.flatten start_dim, default 0'),
  endDim: z.number().int().default(-1).describe('last dim merged (negative counts from the end); torch.flatten end_dim, default -1'),
});

function flattened(x: Shape, { startDim, endDim }: z.output<typeof FlattenAttrsSchema>): number[] {
  // NOTE: a 0-d tensor flattens to [1], as torch; its only axis is 0 / -1
  const rank = Math.max(x.length, 1);
  const [s, e] = [axisOf(startDim, x, rank), axisOf(endDim, x, rank)];
  if (s > e) throw new ShapeError(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape [${x.join(', ')}]`, 0);
  if (x.length === 0) return [1];
  return [...x.slice(0, s), size(x.slice(s, e + 1)), ...x.slice(e + 1)];
}

// as reshape, the row-major data is unchanged but copied: the engine owns what forward and vjp return
function copy(shape: Shape, from: Tensor): Tensor {
  const t = empty(shape, dtypeOf(from));
  t.data.set(from.data);
  return t;
}

export const flatten = defineOp({
  name: 'flatten',
  arity: 1,
  attrs: FlattenAttrsSchema,
  summary: 'merges dims startDim … endDim into one, as torch.flatten (nn.Flatten is startDim 1)',
  derivative: '∂L/∂x = g reshaped to the shape of x',
  shape: ([x], attrs) => flattened(x!, attrs),
  forward: ([x], attrs) => copy(flattened(x!.shape, attrs), x!),
  vjp: ([x], _out, g) => [copy(x!.shape, g)],
});
