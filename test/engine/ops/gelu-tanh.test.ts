import { describe, it } from 'vitest';
import { geluTanh } from '../../../src/engine/ops/gelu-tanh.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('gelu_tanh', () => {
  it('matches x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) (reference values from 40-digit arithmetic)', () => {
    expectUnary(geluTanh, XS, [
      -0.003637392081773019, -0.1588080093917233, -0.15428599017485609, 0, 0.34571400982514394, 0.8411919906082767,
      2.996362607918227,
    ]);
  });

  it('keeps the shape', () => {
    expectSameShape(geluTanh);
  });

  it('has the derivative of that formula, matching reference values and finite differences', () => {
    const expected = [
      -0.011584166630969726, -0.08296408384578255, 0.1326300964653577, 0.5, 0.8673699035346423, 1.0829640838457826,
      1.0115841666309697,
    ];
    XS.forEach((x, i) => expectSame(localDerivative(geluTanh, x), expected[i]!, 1e-14));
    checkVjp(geluTanh, [t64([XS.length], XS)]);
    checkVjp(geluTanh, [rand([3, 4], 1, -4, 4)]);
  });

  it('keeps full relative precision in the negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(geluTanh, [
      [-5, -2.291796196629506e-7, -1.5463619875325946e-6],
      [-10, -1.204092348209806e-37, -2.7576380638540315e-36],
      [-1000, 0, 0],
      [1000, 1000, 1],
    ]);
  });
});
