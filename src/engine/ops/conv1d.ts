import { convOp } from './shared/conv.js';

export const conv1d = convOp(
  1,
  '1-D cross-correlation as torch.nn.functional.conv1d: x [N, C, L] or [C, L], W [O, C/groups, kL], optional bias [O]',
);
