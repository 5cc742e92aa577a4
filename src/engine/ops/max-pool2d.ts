import { z } from 'zod';
import { defineOp } from '../op.js';
import { maxForward, maxVjp, padWithinHalfKernel, slidingAttrs, slidingPooling } from './shared/pool.js';
import { perDim } from './shared/spatial.js';

export const MaxPool2dAttrsSchema = z
  .strictObject({
    ...slidingAttrs,
    dilation: perDim(2, 1, 'spacing between window taps (torch dilation)').default(1),
  })
  .superRefine(padWithinHalfKernel);

export const maxPool2d = defineOp({
  name: 'max_pool2d',
  arity: 1,
  attrs: MaxPool2dAttrsSchema,
  summary: 'maximum over each window of the last two dims, as torch.nn.functional.max_pool2d ([N, C, H, W] or [C, H, W])',
  derivative: '∂L/∂x_i = Σ of g over the windows whose maximum is x_i (the first in the window on a tie), 0 elsewhere',
  shape: ([x], attrs) => slidingPooling('max_pool2d', x!, attrs).shape,
  forward: ([x], attrs) => maxForward(slidingPooling('max_pool2d', x!.shape, attrs), x!),
  // NOTE: on a tie the whole gradient goes to the first maximum in the window's row-major order, as
  // torch (its saved indices); a NaN in a window is its maximum. Overlapping windows add up.
  vjp: ([x], out, g, attrs) => [maxVjp(slidingPooling('max_pool2d', x!.shape, attrs), x!, out, g)],
});
