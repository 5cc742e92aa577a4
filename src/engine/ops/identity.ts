import { unaryOp } from './elementwise.js';

export const identity = unaryOp({
  name: 'identity',
  summary: 'x, unchanged (the linear activation)',
  derivative: 'd/dx x = 1',
  f: (x) => x,
  df: () => 1,
});
