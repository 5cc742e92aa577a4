import { z } from 'zod';
import { log1pExp, sigmoid } from '../math/logistic.js';
import { perElement } from '../op.js';
import { unaryOp } from './elementwise.js';

// NOTE: like PyTorch, x itself is returned where beta·x > threshold (softplus(x) − x < e^−threshold/beta
// there), which leaves a jump of that size at the threshold.
export const softplus = unaryOp({
  name: 'softplus',
  attrs: z.strictObject({
    beta: z.number().positive().default(1).describe('sharpness: ln(1 + e^(beta·x))/beta'),
    threshold: z.number().default(20).describe('above beta·x > threshold the op is the identity'),
  }),
  summary: 'ln(1 + e^(beta·x))/beta; x where beta·x > threshold',
  derivative: 'd/dx softplus(x) = σ(beta·x); 1 where beta·x > threshold',
  flops: perElement(30),
  f: (x, { beta, threshold }) => (x * beta > threshold ? x : log1pExp(x * beta) / beta),
  df: (x, _y, { beta, threshold }) => (x * beta > threshold ? 1 : sigmoid(x * beta)),
});
