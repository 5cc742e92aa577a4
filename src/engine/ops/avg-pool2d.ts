import { z } from 'zod';
import { defineOp } from '../op.js';
import { avgForward, avgVjp, padWithinHalfKernel, slidingAttrs, slidingPooling } from './shared/pool.js';

export const AvgPool2dAttrsSchema = z
  .strictObject({
    ...slidingAttrs,
    countIncludePad: z.boolean().default(true).describe('the padding zeros count in the divisor (torch count_include_pad)'),
    divisorOverride: z.number().int().min(1).optional().describe('divide every window by this instead (torch divisor_override)'),
  })
  .superRefine(padWithinHalfKernel);

export const avgPool2d = defineOp({
  name: 'avg_pool2d',
  arity: 1,
  attrs: AvgPool2dAttrsSchema,
  summary: 'mean over each window of the last two dims, as torch.nn.functional.avg_pool2d ([N, C, H, W] or [C, H, W])',
  derivative: '∂L/∂x_i = Σ over the windows holding x_i of g / the window\'s divisor',
  shape: ([x], attrs) => slidingPooling('avg_pool2d', x!, attrs).shape,
  forward: ([x], attrs) => avgForward(slidingPooling('avg_pool2d', x!.shape, attrs), x!, attrs.divisorOverride),
  // NOTE: the divisor is torch's: the window clipped to the padded input with countIncludePad (so a
  // ceilMode window hanging past the padding counts only what lies inside it), else to the input
  vjp: ([x], _out, g, attrs) => [avgVjp(slidingPooling('avg_pool2d', x!.shape, attrs), x!, g, attrs.divisorOverride)],
});
