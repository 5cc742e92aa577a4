import { binaryOp } from './elementwise.js';

// NOTE: on a tie PyTorch gives each input half of the gradient, as for maximum.
export const minimum = binaryOp({
  name: 'minimum',
  summary: 'min(a, b), elementwise with broadcasting',
  derivative: '∂min(a, b)/∂a = 1 if a < b, 0 if a > b, ½ if a = b; ∂/∂b likewise',
  f: (a, b) => Math.min(a, b),
  da: (a, b) => (a < b ? 1 : a === b ? 0.5 : 0),
  db: (a, b) => (b < a ? 1 : a === b ? 0.5 : 0),
});
