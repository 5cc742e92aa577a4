import { describe, expect, it } from 'vitest';
import { elu } from '../../../src/engine/ops/elu.js';
import { checkKink, expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('elu', () => {
  it('matches reference values, alpha = 1 by default (PyTorch)', () => {
    expect(elu.parseAttrs({})).toEqual({ alpha: 1 });
    expectUnary(elu, XS, [-0.950212931632136, -0.6321205588285577, -0.3934693402873666, 0, 0.5, 1, 3]);
    expectUnary(elu, XS, [-0.475106465816068, -0.31606027941427883, -0.1967346701436833, 0, 0.5, 1, 3], { alpha: 0.5 });
  });

  it('keeps the shape', () => {
    expectSameShape(elu);
  });

  it('has derivative alpha·eˣ for x ≤ 0 and 1 for x > 0: alpha at the kink, as PyTorch', () => {
    expectSame(localDerivative(elu, -1), 0.36787944117144233);
    checkKink(elu, 0, 1);
    // with alpha ≠ 1 the one-sided slopes differ; PyTorch's x ≤ 0 branch gives alpha
    checkKink(elu, 0, 0.5, { alpha: 0.5 });
    checkKink(elu, 0, 2, { alpha: 2 });
    checkVjp(elu, [rand([3, 4], 1, -3, 3)]);
    checkVjp(elu, [rand([3, 4], 2, -3, 3)], { alpha: 0.5 });
  });

  it('saturates at −alpha without overflow', () => {
    expectTails(elu, [[-1000, -1, 0], [1000, 1000, 1]]);
    expectTails(elu, [[-1000, -0.5, 0]], { alpha: 0.5 });
  });
});
