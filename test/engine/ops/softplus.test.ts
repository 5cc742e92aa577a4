import { describe, expect, it } from 'vitest';
import { softplus } from '../../../src/engine/ops/softplus.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('softplus', () => {
  it('matches ln(1 + e^(βx))/β with PyTorch defaults β = 1, threshold = 20', () => {
    expect(softplus.parseAttrs({})).toEqual({ beta: 1, threshold: 20 });
    expectUnary(softplus, XS, [
      0.04858735157374206, 0.3132616875182228, 0.4740769841801067, 0.6931471805599453, 0.9740769841801067,
      1.3132616875182228, 3.048587351573742,
    ]);
    expectUnary(
      softplus,
      XS,
      [
        0.0012378425688652247, 0.06346400552148625, 0.1566308437591114, 0.34657359027997264, 0.6566308437591114,
        1.0634640055214863, 3.001237842568865,
      ],
      { beta: 2 },
    );
  });

  it('rejects a non-positive beta and unknown attributes', () => {
    expect(() => softplus.parseAttrs({ beta: 0 })).toThrow();
    expect(() => softplus.parseAttrs({ beta: -1 })).toThrow();
    expect(() => softplus.parseAttrs({ threshhold: 5 })).toThrow();
  });

  it('is the identity where βx > threshold, as PyTorch', () => {
    expectUnary(softplus, [20.5, 10.5], [20.5, 10.5], { beta: 2 });
    expectUnary(softplus, [4.95, 5.01], [4.957058439431458, 5.01], { threshold: 5 });
    // βx = threshold itself still takes the logarithm
    expectSame(softplus.forward([t64([], [9.9])], softplus.parseAttrs({ beta: 2, threshold: 19.8 })).data[0]!, 9.90000000125875);
  });

  it('keeps the shape', () => {
    expectSameShape(softplus);
  });

  it('has derivative σ(βx), and 1 where βx > threshold', () => {
    expectSame(localDerivative(softplus, 0), 0.5);
    expectSame(localDerivative(softplus, 0, { beta: 3 }), 0.5);
    expectSame(localDerivative(softplus, -1), 0.2689414213699951, 1e-14);
    expect(localDerivative(softplus, 25)).toBe(1);
    checkVjp(softplus, [t64([3], [0, -2, 2])]);
    checkVjp(softplus, [rand([3, 4], 1, -6, 6)]);
    checkVjp(softplus, [rand([3, 4], 2, -3, 3)], { beta: 2.5 });
    // either side of the threshold, where the op switches to the identity
    checkVjp(softplus, [t64([2], [19.999, 20.001])]);
    checkVjp(softplus, [t64([2], [4.999, 5.001])], { beta: 0.5, threshold: 2.5 });
  });

  it('keeps tiny values in the negative tail and does not overflow at |x| = 1e3 whatever the threshold', () => {
    expectTails(softplus, [
      [-30, 9.357622968839737e-14, 9.357622968839299e-14],
      [-1000, 0, 0],
      [1000, 1000, 1],
    ]);
    expectTails(softplus, [[1000, 1000, 1]], { threshold: 1e6 });
  });
});
