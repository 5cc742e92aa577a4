import { defineOp } from '../op.js';
import { expandSpec } from './expand.js';

export const broadcastTo = defineOp(expandSpec('broadcast_to', 'expand under torch.broadcast_to\'s name: x broadcast to a larger shape, -1 keeping a dimension'));
