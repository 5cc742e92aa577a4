import { z } from 'zod';
import { defineOp, perElement } from '../op.js';
import { dtypeOf, zeros, type Tensor } from '../tensor.js';

export const DropoutAttrsSchema = z.strictObject({
  p: z.number().min(0).max(1).default(0.5).describe('probability that an element is zeroed (torch dropout p, training mode)'),
  seed: z
    .number()
    .int()
    .min(0)
    .max(0xffffffff)
    .default(0)
    .describe('mask seed: the same seed, p and shape always drop the same elements, on every machine'),
});

/**
 * The i-th draw (0-based) of mulberry32 seeded with `seed`, in [0, 1). mulberry32's state advances
 * by a constant, so draw i is a pure function of (seed, i): the VJP recomputes the mask element by
 * element without saving it, and a client can reproduce it with any mulberry32.
 */
export function mulberry32At(seed: number, i: number): number {
  let t = (seed + Math.imul(i + 1, 0x6d2b79f5)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// NOTE: inverted dropout: kept elements are scaled by 1/(1 − p) so the expected output equals x and
// no rescaling is needed at inference. Element i is kept when its draw is ≥ p, so p = 0 keeps all
// (identity) and p = 1 keeps none (all zeros, with the scale never evaluated as 1/0).
function masked(x: Tensor, { p, seed }: z.infer<typeof DropoutAttrsSchema>): Tensor {
  const y = zeros(x.shape, dtypeOf(x));
  if (p === 1) return y;
  const scale = 1 / (1 - p);
  const [xs, ys] = [x.data, y.data];
  for (let i = 0; i < xs.length; i++) if (mulberry32At(seed, i) >= p) ys[i] = xs[i]! * scale;
  return y;
}

export const dropout = defineOp({
  name: 'dropout',
  arity: 1,
  attrs: DropoutAttrsSchema,
  summary: 'zeroes each element with probability p and scales the rest by 1/(1 − p); the mask is fixed by seed',
  derivative: '∂L/∂x = g · mask / (1 − p), the same mask as the forward pass',
  flops: perElement(15),
  shape: ([x]) => [...x!],
  forward: ([x], attrs) => masked(x!, attrs),
  // the op is linear in x for a fixed mask, so the VJP is the same masking applied to g
  vjp: (_inputs, _out, g, attrs) => [masked(g, attrs)],
});
