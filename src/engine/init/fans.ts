import type { Shape } from '../tensor.js';

export interface Fans {
  fanIn: number;
  fanOut: number;
}

/**
 * fan_in and fan_out as torch.nn.init._calculate_fan_in_and_fan_out: a weight is [out, in, ...kernel],
 * and the kernel dimensions (the receptive field) multiply both fans. PyTorch defines no fans for
 * rank < 2, so neither do we: the caller must pass them (a bias takes its layer weight's fan_in).
 */
export function computeFans(shape: Shape): Fans | undefined {
  if (shape.length < 2) return undefined;
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!;
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}
