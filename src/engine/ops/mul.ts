import { defineOp } from '../op.js';
import { binary, broadcastShapes } from '../tensor.js';

export const mul = defineOp({
  name: 'mul',
  arity: 2,
  summary: 'a · b, elementwise with broadcasting',
  derivative: '∂(a·b)/∂a = b, ∂(a·b)/∂b = a',
  shape: ([a, b]) => broadcastShapes(a!, b!),
  forward: ([a, b]) => binary(a!, b!, (x, y) => x * y),
  // the engine sums each gradient back to its input's shape
  vjp: ([a, b], _out, g) => [binary(g, b!, (gi, y) => gi * y), binary(g, a!, (gi, x) => gi * x)],
});
