import { describe, it } from 'vitest';
import { cos } from '../../../src/engine/ops/cos.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('cos', () => {
  it('takes the cosine of radians', () => {
    expectUnary(cos, [0, 1, -1, Math.PI / 3], [1, 0.5403023058681398, 0.5403023058681398, 0.5]);
  });

  it('keeps the shape', () => {
    expectSameShape(cos);
  });

  it('has derivative −sin(x), matching finite differences including at 0', () => {
    expectSame(localDerivative(cos, 0), -0);
    expectSame(localDerivative(cos, 1), -0.8414709848078965);
    checkVjp(cos, [t64([3], [0, Math.PI / 2, -2])]);
    checkVjp(cos, [rand([2, 3], 1, -4, 4)]);
  });
});
