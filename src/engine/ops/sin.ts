import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

export const sin = unaryOp({
  name: 'sin',
  summary: 'sin(x), x in radians',
  derivative: 'd/dx sin(x) = cos(x)',
  flops: perElement(10),
  f: (x) => Math.sin(x),
  df: (x) => Math.cos(x),
});
