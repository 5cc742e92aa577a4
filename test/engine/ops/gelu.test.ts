import { describe, it } from 'vitest';
import { gelu } from '../../../src/engine/ops/gelu.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('gelu', () => {
  it('matches x·Φ(x) (reference values from 40-digit arithmetic; PyTorch gives gelu(1) = 0.8413447460685429)', () => {
    expectUnary(gelu, XS, [
      -0.0040496940948902835, -0.15865525393145705, -0.15426876936299344, 0, 0.34573123063700656, 0.8413447460685429,
      2.99595030590511,
    ]);
  });

  it('keeps the shape', () => {
    expectSameShape(gelu);
  });

  it('has derivative Φ(x) + x·φ(x), matching reference values and finite differences', () => {
    const expected = [
      -0.011945647204183927, -0.0833154705876863, 0.13250487534383715, 0.5, 0.8674951246561629, 1.0833154705876864,
      1.011945647204184,
    ];
    XS.forEach((x, i) => expectSame(localDerivative(gelu, x), expected[i]!, 1e-14));
    checkVjp(gelu, [t64([XS.length], XS)]);
    checkVjp(gelu, [rand([3, 4], 1, -4, 4)]);
  });

  it('keeps full relative precision in the negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(gelu, [
      [-5, -1.4332578593959695e-6, -7.146946001792295e-6],
      [-10, -7.619853024160526e-23, -7.618400096464814e-22],
      [-30, -1.472014178144456e-196, -4.416031690708495e-195],
      [-1000, 0, 0],
      [10, 10, 1],
      [1000, 1000, 1],
    ]);
  });
});
