import { binaryOp } from './elementwise.js';

export const div = binaryOp({
  name: 'div',
  summary: 'a / b, elementwise with broadcasting (±inf or NaN where b = 0, as in PyTorch)',
  derivative: '∂(a / b)/∂a = 1/b, ∂(a / b)/∂b = −a/b²',
  f: (a, b) => a / b,
  da: (_a, b) => 1 / b,
  db: (a, b) => -a / (b * b),
});
