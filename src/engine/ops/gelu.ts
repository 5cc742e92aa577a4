import { erfc } from '../math/erf.js';
import { unaryOp } from './elementwise.js';

const INV_SQRT_2PI = 0.3989422804014327;

// NOTE: Φ(x) = erfc(−x/√2)/2 rather than (1 + erf(x/√2))/2: the latter cancels to a few digits for
// x ≪ 0, where erfc keeps full relative precision.
export const gelu = unaryOp({
  name: 'gelu',
  summary: 'x·Φ(x) = x/2·(1 + erf(x/√2)), Φ the standard normal CDF (the exact form)',
  derivative: 'd/dx gelu(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)',
  f: (x) => 0.5 * x * erfc(-x * Math.SQRT1_2),
  df: (x) => 0.5 * erfc(-x * Math.SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
});
