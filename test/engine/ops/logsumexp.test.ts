import { describe, expect, it } from 'vitest';
import { logsumexp } from '../../../src/engine/ops/logsumexp.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { checkZeroDimAxes } from '../../helpers/reductions.js';

describe('logsumexp', () => {
  const x = t64([2, 3], [1, 2, 3, 0, 0, -1]);
  const run = (t = x, attrs: object = {}) => logsumexp.forward([t], logsumexp.parseAttrs(attrs));

  it('matches log Σ exp (numpy-computed values)', () => {
    expectClose(run(x, { axes: 1 }), [3.40760596444438, 0.8619948040582511], 1e-14);
    expectClose(run(x), [3.4831077070745082], 1e-14);
    expect(run(x, { axes: [0], keepdims: true }).shape).toEqual([1, 3]);
  });

  it('stays finite and exact where exp over- or underflows', () => {
    expectClose(run(t64([2], [1000, 1000])), [1000 + Math.LN2], 1e-14);
    expectClose(run(t64([2], [-1000, -1000])), [-1000 + Math.LN2], 1e-14);
    expectClose(run(t64([2], [-1000, 0])), [0], 1e-14);
    expectClose(run(cast(t64([2], [100, 100]), 'float32')), [100 + Math.LN2], 1e-6);
  });

  it('rejects out-of-range axes', () => {
    expect(() => logsumexp.shape([[2, 3]], logsumexp.parseAttrs({ axes: 2 }))).toThrow(ShapeError);
  });

  it('reduces a 0-d tensor over axis 0 or -1, as torch', () => {
    checkZeroDimAxes(logsumexp, 0.75, 0.75);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(logsumexp, [rand([2, 3, 4], 1)]);
    checkVjp(logsumexp, [rand([2, 3, 4], 2, -5, 5)], { axes: [-1] });
    checkVjp(logsumexp, [t64([2, 2], [0, 0, 0, 0])], { axes: 0, keepdims: true });
    checkVjp(logsumexp, [t64([2], [500, 499])]);
  });
});
