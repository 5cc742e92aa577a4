import { describe, expect, it } from 'vitest';
import { leakyRelu } from '../../../src/engine/ops/leaky-relu.js';
import { checkKink, expectSameShape, expectTails, expectUnary } from '../../helpers/elementwise.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

describe('leaky_relu', () => {
  it('scales negative values by negativeSlope, 0.01 by default (PyTorch)', () => {
    expect(leakyRelu.parseAttrs({})).toEqual({ negativeSlope: 0.01 });
    expectUnary(leakyRelu, [-3, -0.5, 0, 0.5, 3], [-0.03, -0.005, 0, 0.5, 3]);
    expectUnary(leakyRelu, [-3, 2], [-0.6, 2], { negativeSlope: 0.2 });
    expectUnary(leakyRelu, [-3, 2], [3, 2], { negativeSlope: -1 });
    expect(() => leakyRelu.parseAttrs({ slope: 0.1 })).toThrow();
  });

  it('keeps the shape', () => {
    expectSameShape(leakyRelu);
  });

  it('has derivative 1 for x > 0 and negativeSlope for x ≤ 0, so negativeSlope at the kink as PyTorch', () => {
    checkKink(leakyRelu, 0, 0.01);
    checkKink(leakyRelu, 0, 0.2, { negativeSlope: 0.2 });
    checkVjp(leakyRelu, [rand([3, 4], 1, -2, 2)]);
    checkVjp(leakyRelu, [rand([3, 4], 2, -2, 2)], { negativeSlope: 0.3 });
    expectTails(leakyRelu, [[-1000, -10, 0.01], [1000, 1000, 1]]);
  });
});
