import { z } from 'zod';
import { leakyReluF32, leakyReluGradF32 } from '../kernels/index.js';
import { unaryOp } from './elementwise.js';

export const leakyRelu = unaryOp({
  name: 'leaky_relu',
  attrs: z.strictObject({
    negativeSlope: z.number().default(0.01).describe('slope for x ≤ 0 (PyTorch negative_slope)'),
  }),
  summary: 'x if x > 0 else negativeSlope·x',
  derivative: 'd/dx leaky_relu(x) = 1 if x > 0 else negativeSlope (negativeSlope at x = 0)',
  f: (x, { negativeSlope }) => (x > 0 ? x : negativeSlope * x),
  // NOTE: the subgradient at the kink is negativeSlope, as in PyTorch (its backward tests x > 0).
  df: (x, _y, { negativeSlope }) => (x > 0 ? 1 : negativeSlope),
  // float32 from 1024 elements: bit for bit the loops, without their unpredictable branch
  kernel32: (x, y, { negativeSlope }) => leakyReluF32(x, y, negativeSlope),
  gradKernel32: (x, _y, g, gx, { negativeSlope }) => leakyReluGradF32(x, g, gx, negativeSlope),
});
