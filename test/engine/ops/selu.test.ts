import { describe, it } from 'vitest';
import { selu } from '../../../src/engine/ops/selu.js';
import { checkKink, expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

// alpha = 1.6732632423543772848…, scale = 1.0507009873554804934… (Klambauer et al. 2017)
const SCALE_ALPHA = 1.7580993408473768;

describe('selu', () => {
  it('matches reference values computed from the paper constants', () => {
    expectUnary(
      selu,
      [-3, -1, -0.5, 0, 0.5, 1, 3],
      [-1.670568728767112, -1.1113307378125628, -0.6917581878028713, 0, 0.5253504936777402, 1.0507009873554805, 3.1521029620664414],
    );
  });

  it('keeps the shape', () => {
    expectSameShape(selu);
  });

  it('has derivative scale·alpha·eˣ for x ≤ 0 and scale for x > 0: scale·alpha at the kink, as PyTorch', () => {
    expectSame(localDerivative(selu, -1), 0.6467686030348141);
    expectSame(localDerivative(selu, 1), 1.0507009873554805);
    checkKink(selu, 0, SCALE_ALPHA);
    checkVjp(selu, [rand([3, 4], 1, -3, 3)]);
  });

  it('saturates at −scale·alpha without overflow', () => {
    expectTails(selu, [[-1000, -SCALE_ALPHA, 0], [1000, 1050.7009873554805, 1.0507009873554805]]);
  });
});
