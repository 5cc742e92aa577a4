import { z } from 'zod';
import { defineOp, perElement } from '../op.js';
import { dtypeOf, zeros, type Data, type Shape } from '../tensor.js';
import { forEachLane, lanes } from './axes.js';

export const SoftmaxAttrsSchema = z.strictObject({
  axis: z.number().int().default(-1).describe('axis along which the outputs sum to 1 (torch dim); negative counts from the end'),
});

/** The shape rule of softmax-like ops: the input's shape, once the axis is checked. */
export const laneShape = ([x]: Shape[], { axis }: { axis: number }): Shape => {
  lanes(x!, axis); // throws on an axis out of range
  return [...x!];
};

// NOTE: softmax(x) = softmax(x − m) for any m; with m = max x no exponent overflows and the
// denominator is at least 1. A lane whose max is ±∞ keeps m = 0 (no ∞ − ∞).
/** The shift m for one lane (n elements from offset b, stride s). */
export function laneShift(xs: Data, b: number, n: number, s: number): number {
  let m = -Infinity;
  for (let j = 0, i = b; j < n; j++, i += s) if (xs[i]! > m) m = xs[i]!;
  return Number.isFinite(m) ? m : 0;
}

export const softmax = defineOp({
  name: 'softmax',
  arity: 1,
  attrs: SoftmaxAttrsSchema,
  summary: 'exp(x_i) / Σ_j exp(x_j) along one axis, computed stably (torch.softmax)',
  derivative: '∂L/∂x_i = y_i · (g_i − Σ_j g_j y_j), y = softmax(x)',
  flops: perElement(12),
  shape: laneShape,
  forward: ([x], { axis }) => {
    const y = zeros(x!.shape, dtypeOf(x!));
    const [xs, ys] = [x!.data, y.data];
    forEachLane(x!.shape, axis, (b, n, s) => {
      const m = laneShift(xs, b, n, s);
      let z = 0;
      for (let j = 0, i = b; j < n; j++, i += s) {
        const e = Math.exp(xs[i]! - m);
        ys[i] = e;
        z += e;
      }
      for (let j = 0, i = b; j < n; j++, i += s) ys[i] = ys[i]! / z;
    });
    return y;
  },
  // NOTE: the Jacobian is diag(y) − y yᵀ, so gᵀJ = y ⊙ (g − ⟨g, y⟩) per lane: O(n), never the n×n matrix.
  vjp: ([x], y, g, { axis }) => {
    const dx = zeros(x!.shape, dtypeOf(g));
    const [ys, gs, ds] = [y.data, g.data, dx.data];
    forEachLane(x!.shape, axis, (b, n, s) => {
      let dot = 0;
      for (let j = 0, i = b; j < n; j++, i += s) dot += gs[i]! * ys[i]!;
      for (let j = 0, i = b; j < n; j++, i += s) ds[i] = ys[i]! * (gs[i]! - dot);
    });
    return [dx];
  },
});
