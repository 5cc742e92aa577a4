import { z } from 'zod';
import { unaryOp } from './elementwise.js';

export const elu = unaryOp({
  name: 'elu',
  attrs: z.strictObject({
    alpha: z.number().default(1).describe('the value approached as x → −∞ is −alpha'),
  }),
  summary: 'x if x > 0 else alpha·(eˣ − 1)',
  derivative: 'd/dx elu(x) = 1 if x > 0 else alpha·eˣ (alpha at x = 0)',
  f: (x, { alpha }) => (x > 0 ? x : alpha * Math.expm1(x)),
  // NOTE: PyTorch's elu_backward takes the x ≤ 0 branch at the kink, so elu'(0) = alpha (1 by default, where
  // both branches agree; for other alpha it is the left derivative).
  df: (x, _y, { alpha }) => (x > 0 ? 1 : alpha * Math.exp(x)),
});
