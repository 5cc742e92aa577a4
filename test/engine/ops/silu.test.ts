import { describe, it } from 'vitest';
import { silu } from '../../../src/engine/ops/silu.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('silu', () => {
  it('matches x·σ(x) (reference values from 40-digit arithmetic)', () => {
    expectUnary(silu, XS, [
      -0.14227761953270035, -0.2689414213699951, -0.18877033439907273, 0, 0.3112296656009273, 0.7310585786300049,
      2.8577223804672998,
    ]);
  });

  it('keeps the shape', () => {
    expectSameShape(silu);
  });

  it('has derivative σ(x)·(1 + x·(1 − σ(x))), matching reference values and finite differences', () => {
    const expected = [
      -0.08810410601516962, 0.07232948812851327, 0.2600388126973482, 0.5, 0.7399611873026518, 0.9276705118714867,
      1.0881041060151697,
    ];
    XS.forEach((x, i) => expectSame(localDerivative(silu, x), expected[i]!, 1e-14));
    checkVjp(silu, [t64([XS.length], XS)]);
    checkVjp(silu, [rand([3, 4], 1, -6, 6)]);
  });

  it('keeps its negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(silu, [
      [-10, -0.00045397868702434395, -0.0004085602086570823],
      [-30, -2.8072868906517896e-12, -2.713710660963134e-12],
      [-1000, 0, 0],
      [1000, 1000, 1],
    ]);
  });
});
