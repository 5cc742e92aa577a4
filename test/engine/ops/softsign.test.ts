import { describe, it } from 'vitest';
import { softsign } from '../../../src/engine/ops/softsign.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('softsign', () => {
  it('computes x/(1 + |x|)', () => {
    expectUnary(softsign, [-3, -1, -0.5, 0, 0.5, 1, 3], [-0.75, -0.5, -1 / 3, 0, 1 / 3, 0.5, 0.75]);
  });

  it('keeps the shape', () => {
    expectSameShape(softsign);
  });

  it('has derivative 1/(1 + |x|)², smooth through 0', () => {
    expectSame(localDerivative(softsign, 0), 1);
    expectSame(localDerivative(softsign, -1), 0.25);
    expectSame(localDerivative(softsign, 3), 0.0625);
    checkVjp(softsign, [t64([5], [0, -1e-3, 1e-3, -2, 2])]);
    checkVjp(softsign, [rand([3, 4], 1, -5, 5)]);
  });

  it('approaches ±1 at |x| = 1e3', () => {
    expectTails(softsign, [
      [-1000, -1000 / 1001, 1 / 1001 ** 2],
      [1000, 1000 / 1001, 1 / 1001 ** 2],
    ]);
  });
});
