import { describe, expect, it } from 'vitest';
import { identity } from '../../../src/engine/ops/identity.js';
import { expectSame, expectSameShape, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';

describe('identity', () => {
  it('returns its input values in a new tensor', () => {
    expectUnary(identity, [-2, 0, 3.5], [-2, 0, 3.5]);
    const x = t64([2], [1, 2]);
    expect(identity.forward([x], {}).data).not.toBe(x.data);
  });

  it('keeps the shape', () => {
    expectSameShape(identity);
  });

  it('has derivative 1, matching finite differences', () => {
    expectSame(localDerivative(identity, 0), 1);
    checkVjp(identity, [t64([3], [0, -1, 2])]);
    checkVjp(identity, [rand([2, 3], 1)]);
  });
});
