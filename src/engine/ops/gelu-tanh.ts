import { sigmoid } from '../math/logistic.js';
import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

const SQRT_2_OVER_PI = 0.7978845608028654;
const KAPPA = 0.044715;

// NOTE: (1 + tanh(u))/2 = σ(2u), so x·σ(2u) is PyTorch's formula without its cancellation for x ≪ 0.
export const geluTanh = unaryOp({
  name: 'gelu_tanh',
  summary: 'x/2·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³) (PyTorch gelu with approximate="tanh")',
  derivative: 'd/dx gelu_tanh(x) = (1 + tanh u)/2 + x/2·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)',
  flops: perElement(24),
  f: (x) => x * sigmoid(2 * SQRT_2_OVER_PI * (x + KAPPA * x * x * x)),
  df: (x) => {
    const s = sigmoid(2 * SQRT_2_OVER_PI * (x + KAPPA * x * x * x));
    return s + 2 * x * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * KAPPA * x * x);
  },
});
