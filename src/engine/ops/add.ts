import { addF32, addTiledF32 } from '../kernels/index.js';
import { binaryOp } from './elementwise.js';

export const add = binaryOp({
  name: 'add',
  summary: 'a + b, elementwise with broadcasting',
  derivative: '∂(a + b)/∂a = 1, ∂(a + b)/∂b = 1',
  f: (a, b) => a + b,
  da: () => 1,
  db: () => 1,
  passesGradient: true,
  kernels32: { same: addF32, tiled: addTiledF32 },
});
