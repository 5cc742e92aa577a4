import { unaryOp } from './elementwise.js';

export const square = unaryOp({
  name: 'square',
  summary: 'x²',
  derivative: 'd/dx x² = 2x',
  f: (x) => x * x,
  df: (x) => 2 * x,
});
