import { z } from 'zod';
import { defineOp } from '../op.js';
import type { Shape } from '../tensor.js';
import { adaptiveWindows, avgForward, avgVjp, type Pooling } from './shared/pool.js';
import { planes } from './shared/spatial.js';

const side = z.number().int().min(1).nullable();

export const AdaptiveAvgPool2dAttrsSchema = z.strictObject({
  outputSize: z
    .union([z.number().int().min(1), z.array(side).length(2)])
    .describe('output [height, width] (one int for both; null keeps the input\'s size), as torch output_size; 1 is global average pooling'),
});

function pooling(x: Shape, { outputSize }: z.output<typeof AdaptiveAvgPool2dAttrsSchema>): Pooling {
  const p = planes('adaptive_avg_pool2d', x);
  const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : [outputSize[0] ?? p.h, outputSize[1] ?? p.w];
  return { ...p, shape: [...x.slice(0, -2), oh, ow], rows: adaptiveWindows(p.h, oh), cols: adaptiveWindows(p.w, ow) };
}

export const adaptiveAvgPool2d = defineOp({
  name: 'adaptive_avg_pool2d',
  arity: 1,
  attrs: AdaptiveAvgPool2dAttrsSchema,
  summary: 'mean over windows chosen to give outputSize, as torch.nn.functional.adaptive_avg_pool2d ([N, C, H, W] or [C, H, W])',
  derivative: '∂L/∂x_i = Σ over the windows holding x_i of g / the window\'s size (windows floor(i·H/oh) … ceil((i+1)·H/oh) − 1 may overlap)',
  shape: ([x], attrs) => pooling(x!, attrs).shape,
  forward: ([x], attrs) => avgForward(pooling(x!.shape, attrs), x!),
  vjp: ([x], _out, g, attrs) => [avgVjp(pooling(x!.shape, attrs), x!, g)],
});
