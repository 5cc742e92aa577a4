import { describe, expect, it } from 'vitest';
import { sqrt } from '../../../src/engine/ops/sqrt.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('sqrt', () => {
  it('takes the square root, NaN below 0 as PyTorch', () => {
    expectUnary(sqrt, [0, 1, 2, 0.25], [0, 1, 1.4142135623730951, 0.5]);
    expect(sqrt.forward([t64([1], [-1])], {}).data[0]).toBeNaN();
  });

  it('keeps the shape', () => {
    expectSameShape(sqrt);
  });

  it('has derivative 1/(2√x), +inf at 0 as PyTorch, matching finite differences for x > 0', () => {
    expectSame(localDerivative(sqrt, 4), 0.25);
    expectSame(localDerivative(sqrt, 0), Infinity);
    checkVjp(sqrt, [t64([3], [1, 0.01, 9])]);
    checkVjp(sqrt, [rand([2, 3], 1, 0.1, 5)]);
  });
});
