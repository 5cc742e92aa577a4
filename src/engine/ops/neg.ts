import { unaryOp } from './elementwise.js';

export const neg = unaryOp({
  name: 'neg',
  summary: '−x',
  derivative: 'd/dx (−x) = −1',
  f: (x) => -x,
  df: () => -1,
});
