// Attribute and layout helpers shared by the convolution and pooling ops.
import { z } from 'zod';
import { formatShape, ShapeError, size, type Shape } from '../../tensor.js';

/**
 * The largest window size, stride, padding, dilation, and reach of a dilated window (dilation·(k − 1) + 1)
 * along one dimension: the kernels index a spatial dimension with 32-bit integers.
 */
export const MAX_WINDOW = 2 ** 24;

/** An int from min to MAX_WINDOW, or one per spatial dimension, as torch's `int or tuple` arguments. */
export function perDim(dims: number, min: number, what: string) {
  const one = z.number().int().min(min).max(MAX_WINDOW);
  return z
    .union([one, z.array(one).length(dims)])
    .describe(`${what}: one int for all spatial dimensions, or ${dims === 1 ? '[length]' : '[height, width]'}; at most ${MAX_WINDOW}`);
}

/** The value of a perDim attribute for each of the `dims` spatial dimensions. */
export function eachDim(v: number | readonly number[], dims: number): number[] {
  return typeof v === 'number' ? new Array<number>(dims).fill(v) : [...v];
}

/** An input [N, C, H, W] or [C, H, W] seen as planes of H × W. */
export function planes(name: string, x: Shape): { planes: number; h: number; w: number } {
  if (x.length !== 3 && x.length !== 4) throw new ShapeError(`${name}: input must be [N, C, H, W] or [C, H, W], got ${formatShape(x)}`, 0);
  return { planes: size(x.slice(0, -2)), h: x.at(-2)!, w: x.at(-1)! };
}
