import { describe, expect, it } from 'vitest';
import { batchnorm } from '../../../src/engine/ops/batchnorm.js';
import { cast } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('batchnorm', () => {
  const defaults = batchnorm.parseAttrs({});

  it('normalizes each channel of [N, C] with batch statistics and biased variance (numpy-computed)', () => {
    expect(defaults).toEqual({ eps: 1e-5 });
    const x = t64([3, 2], [1, 10, 2, 20, 4, 60]);
    const expected = [-1.0690415314502977, -0.9258200898530505, -0.26726038286257453, -0.46291004492652527, 1.3363019143128718, 1.3887301347795757];
    expectClose(batchnorm.forward([x], defaults), expected, 1e-13);
  });

  it('takes statistics over N and every trailing dim of [N, C, L], then weight and bias per channel', () => {
    const x = t64([2, 2, 2], (i) => i ** 1.5);
    const y = batchnorm.forward([x, t64([2], [2, -1]), t64([2], [0.5, 0])], defaults);
    const expected = [-1.6489310092545333, -1.222985555167167, 1.151832954032306, 0.7873291094029151, 1.7586326234443983, 3.113283940977302, -0.6752869463424688, -1.2638751170927516];
    expectClose(y, expected, 1e-13);
    const y32 = batchnorm.forward([cast(x, 'float32'), cast(t64([2], [2, -1]), 'float32'), cast(t64([2], [0.5, 0]), 'float32')], defaults);
    expect(y32.data).toBeInstanceOf(Float32Array);
    expectClose(y32, expected, 1e-5);
  });

  it('rejects inputs torch rejects in training mode, naming the shapes', () => {
    expect(() => batchnorm.shape([[4]], defaults)).toThrow(/\[N, C\] or \[N, C, \.\.\.\], got \[4\]/);
    expect(() => batchnorm.shape([[1, 3]], defaults)).toThrow(/more than 1 value per channel/);
    expect(() => batchnorm.shape([[1, 3, 1]], defaults)).toThrow(/more than 1 value per channel/);
    expect(batchnorm.shape([[1, 3, 2]], defaults)).toEqual([1, 3, 2]);
    expect(() => batchnorm.shape([[4, 3], [4]], defaults)).toThrow(/weight \[4\] must be \[3\]/);
    expect(() => batchnorm.shape([[4, 3], [3], [1, 3]], defaults)).toThrow(/bias \[1, 3\] must be \[3\]/);
  });

  it('has a VJP matching finite differences, with and without weight and bias', () => {
    checkVjp(batchnorm, [rand([4, 3], 1), rand([3], 2), rand([3], 3)]);
    checkVjp(batchnorm, [rand([2, 3, 4], 4)]);
    checkVjp(batchnorm, [rand([3, 2, 2, 2], 5), rand([2], 6)]);
    checkVjp(batchnorm, [t64([2, 2], [0, 1, 0, 1]), t64([2], [1, 2]), t64([2], [0, 0])]);
  });
});
