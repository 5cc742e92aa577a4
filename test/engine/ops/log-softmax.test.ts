import { describe, expect, it } from 'vitest';
import { logSoftmax } from '../../../src/engine/ops/log-softmax.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('log_softmax', () => {
  const run = (x: ReturnType<typeof t64>, attrs: object = {}) => logSoftmax.forward([x], logSoftmax.parseAttrs(attrs));

  it('matches x − logsumexp(x) (numpy-computed values)', () => {
    const x = t64([2, 3], [1, 2, 3, 0, 0, -1]);
    const expected = [-2.40760596444438, -1.4076059644443804, -0.40760596444438046, -0.8619948040582511, -0.8619948040582511, -1.861994804058251];
    expectClose(run(x), expected, 1e-14);
    expectClose(run(x, { axis: 0 }), [-0.31326168751822286, -0.12692801104297263, -0.01814992791780978, -1.3132616875182228, -2.1269280110429727, -4.01814992791781], 1e-14);
    expect(logSoftmax.name).toBe('log_softmax');
  });

  it('stays finite where log(softmax) would give −∞', () => {
    expectClose(run(t64([2], [-1000, 0])), [-1000, 0], 1e-14);
    expectClose(run(t64([2], [1000, 1000])), [-Math.LN2, -Math.LN2], 1e-14);
    expectClose(run(cast(t64([2], [-200, 0]), 'float32')), [-200, 0], 1e-6);
  });

  it('rejects an axis out of range', () => {
    expect(() => logSoftmax.shape([[2, 3]], logSoftmax.parseAttrs({ axis: -3 }))).toThrow(ShapeError);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(logSoftmax, [rand([2, 3, 4], 1, -3, 3)]);
    checkVjp(logSoftmax, [rand([3, 4], 2)], { axis: 0 });
    checkVjp(logSoftmax, [t64([2, 2], [0, 0, 0, 0])]);
    checkVjp(logSoftmax, [t64([3], [30, 0, -30])]);
  });
});
