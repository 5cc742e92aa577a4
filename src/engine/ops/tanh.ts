import { unaryOp } from './elementwise.js';

export const tanh = unaryOp({
  name: 'tanh',
  summary: 'tanh(x)',
  derivative: 'd/dx tanh(x) = 1 − tanh²(x)',
  f: (x) => Math.tanh(x),
  df: (_x, y) => 1 - y * y,
});
