import { unaryOp } from './elementwise.js';

export const cos = unaryOp({
  name: 'cos',
  summary: 'cos(x), x in radians',
  derivative: 'd/dx cos(x) = −sin(x)',
  f: (x) => Math.cos(x),
  df: (x) => -Math.sin(x),
});
