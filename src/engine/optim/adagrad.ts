import { z } from 'zod';
import { MAXIMIZE, type OptimizerDef } from './define.js';

export const AdagradSchema = z
  .strictObject({
    type: z.literal('adagrad').describe('Adagrad, as torch.optim.Adagrad'),
    lr: z.number().min(0).default(1e-2).describe('learning rate'),
    lrDecay: z.number().min(0).default(0).describe('learning-rate decay: the step t uses lr / (1 + (t − 1)·lrDecay)'),
    eps: z.number().min(0).default(1e-10).describe('added to the denominator (after the square root) for numerical stability'),
    weightDecay: z.number().min(0).default(0).describe('L2 penalty, added to the gradient as weightDecay·param'),
    initialAccumulatorValue: z.number().min(0).default(0).describe('starting value of the sum of squared gradients (buffer sum)'),
    ...MAXIMIZE,
  })
  .describe('torch.optim.Adagrad');
export type AdagradConfig = z.infer<typeof AdagradSchema>;

export const adagrad: OptimizerDef<AdagradConfig> = {
  type: 'adagrad',
  bufferNames: ['sum'],
  required: () => ['sum'],
  perParamStep: true,
  squares: ['sum'],
  init: (c, param) => ({ sum: param.data.slice().fill(c.initialAccumulatorValue) }),
  update: ({ lr, lrDecay, eps, weightDecay }, p, g, buf, step) => {
    const sum = buf.sum!;
    const clr = lr / (1 + (step - 1) * lrDecay);
    for (let i = 0; i < p.length; i++) {
      const gi = weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!;
      sum[i] = sum[i]! + gi * gi;
      p[i] = p[i]! + (-clr * gi) / (Math.sqrt(sum[i]!) + eps);
    }
  },
};
