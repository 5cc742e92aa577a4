import { describe, it } from 'vitest';
import { neg } from '../../../src/engine/ops/neg.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('neg', () => {
  it('negates', () => {
    expectUnary(neg, [-2, 0, 1.5], [2, 0, -1.5]);
  });

  it('keeps the shape', () => {
    expectSameShape(neg);
  });

  it('has derivative −1 everywhere, matching finite differences', () => {
    expectSame(localDerivative(neg, 0), -1);
    checkVjp(neg, [t64([3], [0, -1, 2])]);
    checkVjp(neg, [rand([2, 3], 1)]);
  });
});
