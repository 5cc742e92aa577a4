import { describe, it } from 'vitest';
import { sigmoid } from '../../../src/engine/ops/sigmoid.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('sigmoid', () => {
  it('matches 1/(1 + e⁻ˣ) (reference values from 40-digit arithmetic)', () => {
    expectUnary(
      sigmoid,
      [-3, -1, -0.5, 0, 0.5, 1, 3],
      [0.04742587317756678, 0.2689414213699951, 0.37754066879814546, 0.5, 0.6224593312018546, 0.7310585786300049, 0.9525741268224333],
    );
  });

  it('keeps the shape', () => {
    expectSameShape(sigmoid);
  });

  it('has derivative σ(x)·(1 − σ(x)), matching reference values and finite differences', () => {
    expectSame(localDerivative(sigmoid, 0), 0.25);
    expectSame(localDerivative(sigmoid, 1), 0.19661193324148185, 1e-14);
    checkVjp(sigmoid, [t64([3], [0, -2, 2])]);
    checkVjp(sigmoid, [rand([3, 4], 1, -6, 6)]);
  });

  it('keeps tiny values in the negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(sigmoid, [
      [-30, 9.357622968839299e-14, 9.357622968838423e-14],
      [-700, 9.85967654375977e-305, 9.85967654375977e-305],
      [-1000, 0, 0],
      [1000, 1, 0],
    ]);
  });
});
