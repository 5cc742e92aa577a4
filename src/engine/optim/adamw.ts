import { z } from 'zod';
import { adamBufferNames, adamFields, adamInit, adamUpdate } from './adam.js';
import type { OptimizerDef } from './define.js';

export const AdamWSchema = z
  .strictObject({
    type: z.literal('adamw').describe('AdamW, as torch.optim.AdamW'),
    ...adamFields,
    weightDecay: z.number().min(0).default(1e-2).describe('decoupled weight decay: param ·= 1 − lr·weightDecay before the Adam update'),
  })
  .describe('torch.optim.AdamW');
export type AdamWConfig = z.infer<typeof AdamWSchema>;

export const adamw: OptimizerDef<AdamWConfig> = {
  type: 'adamw',
  bufferNames: adamBufferNames,
  required: (c) => (c.amsgrad ? [...adamBufferNames] : ['exp_avg', 'exp_avg_sq']),
  perParamStep: true,
  squares: ['exp_avg_sq', 'max_exp_avg_sq'],
  init: (c, param) => adamInit(c, param.data),
  update: (c, p, g, buf, step) => {
    // NOTE: decoupled decay shrinks the parameter first (rounded into its dtype, as torch's mul_),
    // and the moments see the raw gradient.
    const keep = 1 - c.lr * c.weightDecay;
    for (let i = 0; i < p.length; i++) p[i] = p[i]! * keep;
    adamUpdate(c, p, (i) => g[i]!, buf, step);
  },
};
