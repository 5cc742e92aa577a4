import { z } from 'zod';
import type { Data } from '../tensor.js';
import { MAXIMIZE, type Buffers, type OptimizerDef } from './define.js';

const beta = z.number().min(0).lt(1);

/** The fields Adam and AdamW share, with torch's defaults and checks. */
export const adamFields = {
  lr: z.number().min(0).default(1e-3).describe('learning rate'),
  betas: z
    .tuple([beta, beta])
    .default([0.9, 0.999])
    .describe('[beta1, beta2]: decay rates of the running averages of the gradient and its square, each in [0, 1)'),
  eps: z.number().min(0).default(1e-8).describe('added to the denominator for numerical stability'),
  amsgrad: z.boolean().default(false).describe('AMSGrad: normalize by the running maximum of the second moment (buffer max_exp_avg_sq)'),
  ...MAXIMIZE,
};

export const AdamSchema = z
  .strictObject({
    type: z.literal('adam').describe('Adam, as torch.optim.Adam'),
    ...adamFields,
    weightDecay: z.number().min(0).default(0).describe('L2 penalty, added to the gradient as weightDecay·param (see adamw for decoupled decay)'),
  })
  .describe('torch.optim.Adam');
export type AdamConfig = z.infer<typeof AdamSchema>;

interface AdamCore {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  amsgrad: boolean;
}

export const adamBufferNames = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;

export function adamInit(c: AdamCore, p: Data): Buffers {
  const zero = () => p.slice().fill(0);
  return c.amsgrad ? { exp_avg: zero(), exp_avg_sq: zero(), max_exp_avg_sq: zero() } : { exp_avg: zero(), exp_avg_sq: zero() };
}

/** Adam's moment update and parameter step for the gradient `grad(i)`. */
export function adamUpdate(
  { lr, betas: [b1, b2], eps, amsgrad }: AdamCore,
  p: Data,
  grad: (i: number) => number,
  buf: Buffers,
  step: number,
): void {
  const m = buf.exp_avg!;
  const v = buf.exp_avg_sq!;
  const vmax = buf.max_exp_avg_sq;
  // NOTE: bias correction exactly as torch writes it (not the paper's ε̂ form):
  // p −= (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps), so eps is not rescaled by the correction.
  const stepSize = lr / (1 - b1 ** step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  for (let i = 0; i < p.length; i++) {
    const gi = grad(i);
    m[i] = m[i]! * b1 + (1 - b1) * gi;
    v[i] = v[i]! * b2 + (1 - b2) * gi * gi;
    let second = v[i]!;
    if (amsgrad) second = vmax![i] = Math.max(vmax![i]!, second);
    const denom = Math.sqrt(second) / bc2Sqrt + eps;
    p[i] = p[i]! + (-stepSize * m[i]!) / denom;
  }
}

export const adam: OptimizerDef<AdamConfig> = {
  type: 'adam',
  bufferNames: adamBufferNames,
  required: (c) => (c.amsgrad ? [...adamBufferNames] : ['exp_avg', 'exp_avg_sq']),
  perParamStep: true,
  squares: ['exp_avg_sq', 'max_exp_avg_sq'],
  init: (c, param) => adamInit(c, param.data),
  update: (c, p, g, buf, step) => {
    const wd = c.weightDecay;
    // coupled L2: the decay enters the moments through the gradient
    adamUpdate(c, p, wd !== 0 ? (i) => g[i]! + wd * p[i]! : (i) => g[i]!, buf, step);
  },
};
