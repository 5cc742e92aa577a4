import { defineOp, perElement } from '../op.js';
import { dtypeOf, zeros } from '../tensor.js';
import { forEachLane } from './axes.js';
import { laneShape, laneShift, SoftmaxAttrsSchema } from './softmax.js';

export const logSoftmax = defineOp({
  name: 'log_softmax',
  arity: 1,
  attrs: SoftmaxAttrsSchema,
  summary: 'x_i − log Σ_j exp(x_j) along one axis, computed stably (torch.log_softmax)',
  derivative: '∂L/∂x_i = g_i − softmax(x)_i · Σ_j g_j',
  flops: perElement(17),
  shape: laneShape,
  // NOTE: computed as (x − m) − log Σ exp(x − m) with m = max x, never as log(softmax(x)): the
  // direct form underflows to log(0) = −∞ for very negative logits, this one stays finite.
  forward: ([x], { axis }) => {
    const y = zeros(x!.shape, dtypeOf(x!));
    const [xs, ys] = [x!.data, y.data];
    forEachLane(x!.shape, axis, (b, n, s) => {
      const m = laneShift(xs, b, n, s);
      let z = 0;
      for (let j = 0, i = b; j < n; j++, i += s) z += Math.exp(xs[i]! - m);
      const lz = Math.log(z);
      for (let j = 0, i = b; j < n; j++, i += s) ys[i] = xs[i]! - m - lz;
    });
    return y;
  },
  // NOTE: ∂y_i/∂x_k = δ_ik − softmax_k, so gᵀJ = g − softmax · Σ g, with softmax = exp(y) recovered
  // from the output (exp of a log-probability ≤ 0 cannot overflow).
  vjp: ([x], y, g, { axis }) => {
    const dx = zeros(x!.shape, dtypeOf(g));
    const [ys, gs, ds] = [y.data, g.data, dx.data];
    forEachLane(x!.shape, axis, (b, n, s) => {
      let total = 0;
      for (let j = 0, i = b; j < n; j++, i += s) total += gs[i]!;
      for (let j = 0, i = b; j < n; j++, i += s) ds[i] = gs[i]! - Math.exp(ys[i]!) * total;
    });
    return [dx];
  },
});
