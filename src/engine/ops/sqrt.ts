import { unaryOp } from './elementwise.js';

export const sqrt = unaryOp({
  name: 'sqrt',
  summary: '√x (NaN for x < 0, as in PyTorch)',
  derivative: 'd/dx √x = 1/(2√x), +inf at x = 0',
  f: (x) => Math.sqrt(x),
  // NOTE: at x = 0 this is 1/0 = +inf, as PyTorch's grad / (2·result); an upstream gradient of 0 makes it NaN there.
  df: (_x, y) => 1 / (2 * y),
});
