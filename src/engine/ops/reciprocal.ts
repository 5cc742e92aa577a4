import { unaryOp } from './elementwise.js';

export const reciprocal = unaryOp({
  name: 'reciprocal',
  summary: '1/x (+inf at x = 0)',
  derivative: 'd/dx (1/x) = −1/x²',
  f: (x) => 1 / x,
  // −y² is −1/x² without a second division, PyTorch's form; −inf at x = 0
  df: (_x, y) => -y * y,
});
