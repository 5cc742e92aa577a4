import { describe, it } from 'vitest';
import { square } from '../../../src/engine/ops/square.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('square', () => {
  it('squares', () => {
    expectUnary(square, [-3, 0, 0.5, 2], [9, 0, 0.25, 4]);
  });

  it('keeps the shape', () => {
    expectSameShape(square);
  });

  it('has derivative 2x, matching finite differences including at 0', () => {
    expectSame(localDerivative(square, -1.5), -3);
    expectSame(localDerivative(square, 0), 0);
    checkVjp(square, [t64([3], [0, -1, 2])]);
    checkVjp(square, [rand([2, 3], 1, -3, 3)]);
  });
});
