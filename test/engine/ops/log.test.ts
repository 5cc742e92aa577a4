import { describe, expect, it } from 'vitest';
import { log } from '../../../src/engine/ops/log.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('log', () => {
  it('takes the natural logarithm', () => {
    expectUnary(log, [1, 2, 10, 0.5], [0, 0.6931471805599453, 2.302585092994046, -0.6931471805599453]);
  });

  it('gives −inf at 0 and NaN below, as PyTorch', () => {
    const out = log.forward([t64([2], [0, -1])], {});
    expect(out.data[0]).toBe(-Infinity);
    expect(out.data[1]).toBeNaN();
  });

  it('keeps the shape', () => {
    expectSameShape(log);
  });

  it('has derivative 1/x (+inf at 0, as PyTorch), matching finite differences for x > 0', () => {
    expectSame(localDerivative(log, 4), 0.25);
    expectSame(localDerivative(log, 0), Infinity);
    checkVjp(log, [t64([3], [1, 0.25, 3])]);
    checkVjp(log, [rand([2, 3], 1, 0.1, 5)]);
  });
});
