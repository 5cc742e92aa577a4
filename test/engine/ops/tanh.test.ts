import { describe, it } from 'vitest';
import { tanh } from '../../../src/engine/ops/tanh.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('tanh', () => {
  it('matches reference values', () => {
    expectUnary(
      tanh,
      [-3, -1, -0.5, 0, 0.5, 1, 3],
      [-0.9950547536867305, -0.7615941559557649, -0.46211715726000974, 0, 0.46211715726000974, 0.7615941559557649, 0.9950547536867305],
    );
  });

  it('keeps the shape', () => {
    expectSameShape(tanh);
  });

  it('has derivative 1 − tanh²(x), matching reference values and finite differences', () => {
    expectSame(localDerivative(tanh, 0), 1);
    expectSame(localDerivative(tanh, 0.5), 0.7864477329659274, 1e-14);
    checkVjp(tanh, [t64([3], [0, -2, 2])]);
    checkVjp(tanh, [rand([3, 4], 1, -4, 4)]);
  });

  it('saturates without overflow at |x| = 1e3', () => {
    expectTails(tanh, [
      [-1000, -1, 0],
      [1000, 1, 0],
    ]);
  });
});
