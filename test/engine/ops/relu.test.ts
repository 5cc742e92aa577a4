import { describe, it } from 'vitest';
import { relu } from '../../../src/engine/ops/relu.js';
import { checkKink, expectSameShape, expectTails, expectUnary } from '../../helpers/elementwise.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

describe('relu', () => {
  it('zeroes negative values', () => {
    expectUnary(relu, [-3, -0.5, 0, 0.5, 3], [0, 0, 0, 0.5, 3]);
  });

  it('keeps the shape', () => {
    expectSameShape(relu);
  });

  it('has derivative 1 for x > 0, 0 for x < 0, and 0 at the kink as PyTorch', () => {
    checkKink(relu, 0, 0);
    checkVjp(relu, [rand([3, 4], 1, -2, 2)]);
    expectTails(relu, [[-1000, 0, 0], [1000, 1000, 1]]);
  });
});
