import { unaryOp } from './elementwise.js';

// Klambauer et al. 2017, "Self-Normalizing Neural Networks", to double precision (PyTorch's values).
const ALPHA = 1.6732632423543772;
const SCALE = 1.0507009873554805;

export const selu = unaryOp({
  name: 'selu',
  summary: 'scale·(x if x > 0 else alpha·(eˣ − 1)), alpha = 1.6732632423543772, scale = 1.0507009873554805',
  derivative: 'd/dx selu(x) = scale if x > 0 else scale·alpha·eˣ (scale·alpha at x = 0)',
  f: (x) => SCALE * (x > 0 ? x : ALPHA * Math.expm1(x)),
  // NOTE: as for elu, PyTorch takes the x ≤ 0 branch at the kink: selu'(0) = scale·alpha ≈ 1.7581.
  df: (x) => (x > 0 ? SCALE : SCALE * ALPHA * Math.exp(x)),
});
