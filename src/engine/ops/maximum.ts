import { binaryOp } from './elementwise.js';

// NOTE: on a tie PyTorch gives each input half of the gradient (the mean of the one-sided derivatives,
// which is also what a central difference measures).
export const maximum = binaryOp({
  name: 'maximum',
  summary: 'max(a, b), elementwise with broadcasting',
  derivative: '∂max(a, b)/∂a = 1 if a > b, 0 if a < b, ½ if a = b; ∂/∂b likewise',
  f: (a, b) => Math.max(a, b),
  da: (a, b) => (a > b ? 1 : a === b ? 0.5 : 0),
  db: (a, b) => (b > a ? 1 : a === b ? 0.5 : 0),
});
