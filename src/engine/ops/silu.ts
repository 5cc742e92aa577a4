import { siluF32, siluGradF32 } from '../kernels/index.js';
import { sigmoid } from '../math/logistic.js';
import { unaryOp } from './elementwise.js';

export const silu = unaryOp({
  name: 'silu',
  summary: 'x·σ(x), σ the logistic sigmoid (also called swish)',
  derivative: 'd/dx silu(x) = σ(x)·(1 + x·(1 − σ(x)))',
  f: (x) => x * sigmoid(x),
  df: (x) => {
    const s = sigmoid(x);
    return s * (1 + x * (1 - s));
  },
  // float32 from 1024 elements: SIMD (kernels/wasm.ts gives the bounds), several times faster than the loops
  kernel32: (x, y) => siluF32(x, y),
  gradKernel32: (x, _y, g, gx) => siluGradF32(x, g, gx),
});
