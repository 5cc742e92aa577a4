import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, type Shape } from '../tensor.js';
import { forEachLane, lanes } from './axes.js';

const AttrsSchema = z.strictObject({
  axis: z.number().int().describe('the axis to sum along (negative counts from the end; 0 or -1 on a 0-d tensor); torch.cumsum\'s dim, required as there'),
});

/** Running sums along each lane (float64 accumulation), front to back or back to front. */
function running(shape: Shape, axis: number, x: ArrayLike<number>, y: { [i: number]: number }, reverse: boolean): void {
  forEachLane(shape, axis, (base, dim, step) => {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const at = base + (reverse ? dim - 1 - j : j) * step;
      y[at] = s += x[at]!;
    }
  });
}

export const cumsum = defineOp({
  name: 'cumsum',
  arity: 1,
  attrs: AttrsSchema,
  summary: 'running sums along one axis: y_i = x_0 + … + x_i (torch.cumsum)',
  derivative: '∂L/∂x_i = g_i + g_{i+1} + … + g_last along the axis: the running sums of g from the back',
  shape: ([x], { axis }) => {
    lanes(x!, axis);
    return [...x!];
  },
  forward: ([x], { axis }) => {
    const out = empty(x!.shape, dtypeOf(x!));
    running(x!.shape, axis, x!.data, out.data, false);
    return out;
  },
  vjp: ([x], _out, g, { axis }) => {
    const gx = empty(x!.shape, dtypeOf(g));
    running(x!.shape, axis, g.data, gx.data, true);
    return [gx];
  },
});
