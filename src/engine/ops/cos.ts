import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

export const cos = unaryOp({
  name: 'cos',
  summary: 'cos(x), x in radians',
  derivative: 'd/dx cos(x) = −sin(x)',
  flops: perElement(10),
  f: (x) => Math.cos(x),
  df: (x) => -Math.sin(x),
});
