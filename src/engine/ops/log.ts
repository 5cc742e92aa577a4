import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

export const log = unaryOp({
  name: 'log',
  summary: 'ln(x), the natural logarithm (−inf at 0, NaN for x < 0, as in PyTorch)',
  derivative: 'd/dx ln(x) = 1/x',
  flops: perElement(7),
  f: (x) => Math.log(x),
  df: (x) => 1 / x,
});
