import { z } from 'zod';
import { unaryOp } from './elementwise.js';

export const clamp = unaryOp({
  name: 'clamp',
  attrs: z
    .strictObject({
      min: z.number().optional().describe('lower bound; omit for none'),
      max: z.number().optional().describe('upper bound; omit for none'),
    })
    .refine((a) => a.min !== undefined || a.max !== undefined, 'clamp needs at least one of min and max'),
  summary: 'min(max(x, min), max); a bound may be omitted, not both; every element becomes max if min > max (as in PyTorch)',
  derivative: 'd/dx clamp(x) = 1 if min ≤ x ≤ max else 0 (1 at the bounds themselves)',
  f: (x, { min = -Infinity, max = Infinity }) => Math.min(Math.max(x, min), max),
  // NOTE: the gradient passes at the bounds themselves (x = min or x = max), as in PyTorch; with
  // min > max no x qualifies, so the gradient is 0 everywhere, again as in PyTorch.
  df: (x, _y, { min = -Infinity, max = Infinity }) => (x >= min && x <= max ? 1 : 0),
});
