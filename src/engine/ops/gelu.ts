import { ELEMENTWISE_MIN, geluF32, geluGradF32 } from '../kernels/index.js';
import { erfc, erfcF32 } from '../math/erf.js';
import { unaryOp } from './elementwise.js';

const INV_SQRT_2PI = 0.3989422804014327;

// The float32 rules: erfcF32, exact to about one float32 ulp, for a fraction of erfc's work.
const f32 = (x: number): number => 0.5 * x * erfcF32(-x * Math.SQRT1_2);
const df32 = (x: number, g: number): number => g * (0.5 * erfcF32(-x * Math.SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x));

// NOTE: Φ(x) = erfc(−x/√2)/2 rather than (1 + erf(x/√2))/2: the latter cancels to a few digits for
// x ≪ 0, where erfc keeps full relative precision. Float32 tensors from ELEMENTWISE_MIN elements take
// the float32 rules, on the WebAssembly SIMD kernel (their arithmetic in float64 lanes) where it loads.
export const gelu = unaryOp({
  name: 'gelu',
  summary: 'x·Φ(x) = x/2·(1 + erf(x/√2)), Φ the standard normal CDF (the exact form)',
  derivative: 'd/dx gelu(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)',
  f: (x) => 0.5 * x * erfc(-x * Math.SQRT1_2),
  df: (x) => 0.5 * erfc(-x * Math.SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  kernel32: (x, y) => {
    const n = x.length;
    if (n < ELEMENTWISE_MIN) return false;
    if (!geluF32(x, y, f32)) for (let i = 0; i < n; i++) y[i] = f32(x[i]!);
    return true;
  },
  gradKernel32: (x, _y, g, gx) => {
    const n = x.length;
    if (n < ELEMENTWISE_MIN) return false;
    if (!geluGradF32(x, g, gx, df32)) for (let i = 0; i < n; i++) gx[i] = df32(x[i]!, g[i]!);
    return true;
  },
});
