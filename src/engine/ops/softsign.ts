import { unaryOp } from './elementwise.js';

export const softsign = unaryOp({
  name: 'softsign',
  summary: 'x/(1 + |x|)',
  derivative: 'd/dx softsign(x) = 1/(1 + |x|)²',
  f: (x) => x / (1 + Math.abs(x)),
  df: (x) => 1 / ((1 + Math.abs(x)) * (1 + Math.abs(x))),
});
