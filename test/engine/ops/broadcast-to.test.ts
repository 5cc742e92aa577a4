import { describe, expect, it } from 'vitest';
import { broadcastTo } from '../../../src/engine/ops/broadcast-to.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// The same rule as expand (its tests cover it); here the name in its messages, and torch.broadcast_to's
// -1: torch.broadcast_to(ones(3, 1), (-1, 4)).shape == (3, 4)
describe('broadcast_to', () => {
  it('broadcasts as expand does, under its own name', () => {
    const y = broadcastTo.forward([t64([2, 1], [1, 2])], broadcastTo.parseAttrs({ shape: [-1, 3] }));
    expect(y.shape).toEqual([2, 3]);
    expectClose(y, [1, 1, 1, 2, 2, 2]);
    expect(() => broadcastTo.shape([[2, 2]], broadcastTo.parseAttrs({ shape: [2, 3] }))).toThrow(/^broadcast_to: dimension 1/);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(broadcastTo, [rand([1, 3], 1)], { shape: [2, 2, 3] });
  });
});
