import { convOp } from './shared/conv.js';

export const conv2d = convOp(
  2,
  '2-D cross-correlation as torch.nn.functional.conv2d: x [N, C, H, W] or [C, H, W], W [O, C/groups, kH, kW], optional bias [O]',
);
