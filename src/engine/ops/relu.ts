import { unaryOp } from './elementwise.js';

export const relu = unaryOp({
  name: 'relu',
  summary: 'max(x, 0)',
  derivative: 'd/dx relu(x) = 1 if x > 0 else 0 (0 at x = 0)',
  f: (x) => (x > 0 ? x : 0),
  // NOTE: the subgradient at the kink is 0, as in PyTorch (its backward passes the gradient only where the output is > 0).
  df: (x) => (x > 0 ? 1 : 0),
});
