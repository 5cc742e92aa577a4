import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, formatShape, ShapeError, size, type Shape } from '../tensor.js';

export const ReshapeAttrsSchema = z.strictObject({
  shape: z
    .array(z.number().int().min(-1))
    .describe('the new shape (torch.reshape); one entry may be -1, inferred from the element count'),
});

function target(from: Shape, shape: readonly number[]): number[] {
  const holes = shape.filter((d) => d === -1).length;
  const known = size(shape.filter((d) => d !== -1));
  const bad = (why: string) => new ShapeError(`cannot reshape ${formatShape(from)} to ${formatShape(shape)}: ${why}`);
  if (holes > 1) throw bad('only one dimension can be -1');
  if (holes === 0) {
    if (known !== size(from)) throw bad(`${size(from)} elements do not fill ${known}`);
    return [...shape];
  }
  if (known === 0 || size(from) % known !== 0) throw bad(`cannot infer the -1 dimension from ${size(from)} elements`);
  return shape.map((d) => (d === -1 ? size(from) / known : d));
}

// Row-major data is unchanged by a reshape. The forward value is still a copy (on a recycled buffer,
// engine/buffers.ts): a value of its own, never a view of the input. The gradient may be `g`'s buffer
// itself: the engine copies an adjoint before it writes into one it does not own (engine/run.ts).
export const reshape = defineOp({
  name: 'reshape',
  arity: 1,
  attrs: ReshapeAttrsSchema,
  summary: 'same elements in row-major order, new shape (torch.reshape)',
  derivative: '∂L/∂x = g reshaped to the shape of x',
  shape: ([x], { shape }) => target(x!, shape),
  forward: ([x], { shape }) => {
    const y = empty(target(x!.shape, shape), dtypeOf(x!));
    y.data.set(x!.data);
    return y;
  },
  vjp: ([x], _out, g) => [{ shape: [...x!.shape], data: g.data }],
});
