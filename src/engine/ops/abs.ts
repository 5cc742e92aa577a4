import { unaryOp } from './elementwise.js';

export const abs = unaryOp({
  name: 'abs',
  summary: '|x|',
  derivative: 'd/dx |x| = sign(x): 1 if x > 0, −1 if x < 0, 0 at x = 0',
  f: (x) => Math.abs(x),
  // NOTE: the subgradient at the kink is sign(0) = 0, as in PyTorch.
  df: (x) => Math.sign(x),
});
