import { describe, it } from 'vitest';
import { sin } from '../../../src/engine/ops/sin.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('sin', () => {
  it('takes the sine of radians', () => {
    expectUnary(sin, [0, 1, -1, Math.PI / 6], [0, 0.8414709848078965, -0.8414709848078965, 0.5]);
  });

  it('keeps the shape', () => {
    expectSameShape(sin);
  });

  it('has derivative cos(x), matching finite differences including at 0', () => {
    expectSame(localDerivative(sin, 0), 1);
    expectSame(localDerivative(sin, 1), 0.5403023058681398);
    checkVjp(sin, [t64([3], [0, Math.PI / 2, -2])]);
    checkVjp(sin, [rand([2, 3], 1, -4, 4)]);
  });
});
