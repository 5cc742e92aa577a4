import { z } from 'zod';
import { MAXIMIZE, type OptimizerDef } from './define.js';

export const SgdSchema = z
  .strictObject({
    type: z.literal('sgd').describe('stochastic gradient descent, as torch.optim.SGD'),
    lr: z.number().min(0).describe('learning rate (required, as in torch 1.x)'),
    momentum: z.number().min(0).default(0).describe('momentum factor'),
    dampening: z
      .number()
      .default(0)
      .describe('dampening of the momentum: buf = momentum·buf + (1 − dampening)·grad (not applied on the first step)'),
    nesterov: z.boolean().default(false).describe('Nesterov momentum; needs momentum > 0 and dampening 0'),
    weightDecay: z.number().min(0).default(0).describe('L2 penalty, added to the gradient as weightDecay·param'),
    ...MAXIMIZE,
  })
  .refine((c) => !c.nesterov || (c.momentum > 0 && c.dampening === 0), {
    message: 'Nesterov momentum requires a momentum and zero dampening',
    path: ['nesterov'],
  })
  .describe('torch.optim.SGD');
export type SgdConfig = z.infer<typeof SgdSchema>;

export const sgd: OptimizerDef<SgdConfig> = {
  type: 'sgd',
  bufferNames: ['momentum_buffer'],
  required: (c) => (c.momentum !== 0 ? ['momentum_buffer'] : []),
  perParamStep: false,
  init: () => ({}),
  update: ({ lr, momentum, dampening, nesterov, weightDecay }, p, g, buf) => {
    // NOTE: on a parameter's first step torch's buffer is a plain copy of the (decayed) gradient,
    // without dampening; afterwards buf = momentum·buf + (1 − dampening)·d_p.
    let mb = buf.momentum_buffer;
    const first = mb === undefined;
    if (momentum !== 0 && first) mb = buf.momentum_buffer = p.slice().fill(0);
    for (let i = 0; i < p.length; i++) {
      let d = weightDecay !== 0 ? g[i]! + weightDecay * p[i]! : g[i]!;
      if (momentum !== 0) {
        mb![i] = first ? d : mb![i]! * momentum + (1 - dampening) * d;
        d = nesterov ? d + momentum * mb![i]! : mb![i]!;
      }
      p[i] = p[i]! - lr * d;
    }
  },
};
