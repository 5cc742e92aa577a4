import { describe, it } from 'vitest';
import { abs } from '../../../src/engine/ops/abs.js';
import { checkKink, expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

describe('abs', () => {
  it('takes the absolute value', () => {
    expectUnary(abs, [-2, -0.5, 0, 3], [2, 0.5, 0, 3]);
  });

  it('keeps the shape', () => {
    expectSameShape(abs);
  });

  it('has derivative sign(x), and 0 at the kink as PyTorch', () => {
    expectSame(localDerivative(abs, -3), -1);
    expectSame(localDerivative(abs, 3), 1);
    checkKink(abs, 0, 0);
    checkVjp(abs, [rand([2, 3], 1)]);
  });
});
