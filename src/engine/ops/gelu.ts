import { Kept } from '../buffers.js';
import { ELEMENTWISE_MIN, geluF32, geluGradF32, geluSlopeF32, mulF32 } from '../kernels/index.js';
import { erfc } from '../math/erf.js';
import { GELU_F32_RANGE, geluF32Rule, geluGradF32Rule } from '../math/gelu-f32.js';
import { backwardFollows } from '../op.js';
import { emptyData, size } from '../tensor.js';
import { unaryOp } from './elementwise.js';

const INV_SQRT_2PI = 0.3989422804014327;

const f = (x: number): number => 0.5 * x * erfc(-x * Math.SQRT1_2);
const df = (x: number): number => 0.5 * erfc(-x * Math.SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
// The float32 rules (src/engine/math/gelu-f32.ts) up to GELU_F32_RANGE; past it and for NaN the exact ones,
// rounded (x or −0, and the NaNs of ±∞·0 as the float64 rule and PyTorch).
const inRange = (x: number): boolean => Math.abs(x) <= GELU_F32_RANGE;
const f32 = (x: number): number => (inRange(x) ? geluF32Rule(x) : f(x));
const df32 = (x: number, g: number): number => (inRange(x) ? geluGradF32Rule(x, g) : g * df(x));

// NOTE (speed): the float32 kernel's forward pass shares its exponential and h between gelu(x) and
// gelu′(x), so it keeps gelu′(x) beside its output and the backward pass is one product g·gelu′(x) (the
// bits of the gradient kernel), written over it, instead of a second evaluation. As max pooling's
// indices (shared/pool.ts, buffers.ts Kept): by the output's array, used only given that output and the
// very x it was computed from, and once, since the gradient takes its place.
const slopeOf = new Kept<Float32Array, { x: Float32Array; d: Float32Array; left: number }>();

// NOTE: Φ(x) = erfc(−x/√2)/2 rather than (1 + erf(x/√2))/2: the latter cancels to a few digits for
// x ≪ 0, where erfc keeps full relative precision. Float32 tensors from ELEMENTWISE_MIN elements take
// the float32 rules, on the WebAssembly SIMD kernel (the same steps in float32 lanes) where it loads.
export const gelu = unaryOp({
  name: 'gelu',
  summary: 'x·Φ(x) = x/2·(1 + erf(x/√2)), Φ the standard normal CDF (the exact form)',
  derivative: 'd/dx gelu(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)',
  f,
  df,
  // the kept gelu′(x), float32 and from ELEMENTWISE_MIN elements (counted for every dtype: shapes only here)
  workspace: ([x]) => size(x!),
  kernel32: (x, y) => {
    const n = x.length;
    if (n < ELEMENTWISE_MIN) return false;
    if (!backwardFollows()) {
      if (!geluF32(x, y, f32)) for (let i = 0; i < n; i++) y[i] = f32(x[i]!);
      return true;
    }
    const d = emptyData(n, 'float32') as Float32Array;
    const left = geluSlopeF32(x, y, d, f32);
    if (left === null) for (let i = 0; i < n; i++) y[i] = f32(x[i]!);
    else slopeOf.keep(y, { x, d, left });
    return true;
  },
  keptGrad32: (x, y, g) => {
    const kept = slopeOf.get(y);
    if (!kept || kept.x !== x) return null;
    slopeOf.forget(y);
    const { d, left } = kept;
    if (!mulF32(g, d, d)) return null;
    // the elements past the kernel's range (their d is NaN) take the rule
    for (let i = 0; left > 0 && i < x.length; i++) if (!inRange(x[i]!)) d[i] = df32(x[i]!, g[i]!);
    return d;
  },
  gradKernel32: (x, _y, g, gx) => {
    const n = x.length;
    if (n < ELEMENTWISE_MIN) return false;
    if (!geluGradF32(x, g, gx, df32)) for (let i = 0; i < n; i++) gx[i] = df32(x[i]!, g[i]!);
    return true;
  },
});
