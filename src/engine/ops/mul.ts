import { binaryOp } from './elementwise.js';

export const mul = binaryOp({
  name: 'mul',
  summary: 'a · b, elementwise with broadcasting',
  derivative: '∂(a·b)/∂a = b, ∂(a·b)/∂b = a',
  f: (a, b) => a * b,
  da: (_a, b) => b,
  db: (a) => a,
});
