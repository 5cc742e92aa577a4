import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

export const exp = unaryOp({
  name: 'exp',
  summary: 'eˣ',
  derivative: 'd/dx eˣ = eˣ',
  flops: perElement(8),
  f: (x) => Math.exp(x),
  df: (_x, y) => y,
});
