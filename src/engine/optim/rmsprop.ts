import { z } from 'zod';
import { MAXIMIZE, type Buffers, type OptimizerDef } from './define.js';

export const RmspropSchema = z
  .strictObject({
    type: z.literal('rmsprop').describe('RMSprop, as torch.optim.RMSprop'),
    lr: z.number().min(0).default(1e-2).describe('learning rate'),
    alpha: z.number().min(0).default(0.99).describe('smoothing constant of the running average of the squared gradient'),
    eps: z.number().min(0).default(1e-8).describe('added to the denominator (after the square root) for numerical stability'),
    momentum: z.number().min(0).default(0).describe('momentum factor (buffer momentum_buffer)'),
    centered: z.boolean().default(false).describe('normalize by an estimate of the gradient variance (buffer grad_avg)'),
    weightDecay: z.number().min(0).default(0).describe('L2 penalty, added to the gradient as weightDecay·param'),
    ...MAXIMIZE,
  })
  .describe('torch.optim.RMSprop');
export type RmspropConfig = z.infer<typeof RmspropSchema>;

function required(c: RmspropConfig): string[] {
  return ['square_avg', ...(c.momentum > 0 ? ['momentum_buffer'] : []), ...(c.centered ? ['grad_avg'] : [])];
}

export const rmsprop: OptimizerDef<RmspropConfig> = {
  type: 'rmsprop',
  bufferNames: ['square_avg', 'momentum_buffer', 'grad_avg'],
  required,
  // torch keeps a per-parameter step for RMSprop although its update does not use it
  perParamStep: true,
  squares: ['square_avg'],
  init: (c, param) => {
    const buf: Buffers = {};
    for (const name of required(c)) buf[name] = param.data.slice().fill(0);
    return buf;
  },
  update: ({ lr, alpha, eps, momentum, centered, weightDecay }, p, g, buf) => {
    const sq = buf.square_avg!;
    const ga = buf.grad_avg;
    const mb = buf.momentum_buffer;
    for (let i = 0; i < p.length; i++) {
      const gi = weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!;
      sq[i] = sq[i]! * alpha + (1 - alpha) * gi * gi;
      let avg: number;
      if (centered) {
        ga![i] = ga![i]! * alpha + (1 - alpha) * gi;
        // NOTE: E[g²] − E[g]² estimates a variance, ≥ 0 in exact arithmetic; torch does not clamp it,
        // so neither do we (a rounding below zero gives NaN in both).
        avg = Math.sqrt(sq[i]! - ga![i]! * ga![i]!);
      } else {
        avg = Math.sqrt(sq[i]!);
      }
      avg += eps;
      if (momentum > 0) {
        mb![i] = mb![i]! * momentum + gi / avg;
        p[i] = p[i]! - lr * mb![i]!;
      } else {
        p[i] = p[i]! + (-lr * gi) / avg;
      }
    }
  },
};
