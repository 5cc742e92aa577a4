import { describe, expect, it } from 'vitest';
import { adaptiveAvgPool2d } from '../../../src/engine/ops/adaptive-avg-pool2d.js';
import { cast } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

const attrs = (raw: unknown) => adaptiveAvgPool2d.parseAttrs(raw);

describe('adaptive_avg_pool2d', () => {
  it('averages torch\'s overlapping windows for any output size (torch-computed)', () => {
    const y = adaptiveAvgPool2d.forward([t64([1, 5, 7], (i) => i + 1)], attrs({ outputSize: [3, 4] }));
    expect(y.shape).toEqual([1, 3, 4]);
    expectClose(y, [5, 6.5, 8.5, 10, 15.5, 17, 19, 20.5, 26, 27.5, 29.5, 31]);
  });

  it('is global average pooling at 1, and keeps a null side', () => {
    const x = rand([2, 3, 4, 5], 1);
    const y = adaptiveAvgPool2d.forward([x], attrs({ outputSize: 1 }));
    expect(y.shape).toEqual([2, 3, 1, 1]);
    for (let p = 0; p < 6; p++) expect(y.data[p]).toBeCloseTo(Array.from(x.data.slice(p * 20, p * 20 + 20)).reduce((a, v) => a + v, 0) / 20, 14);
    expect(adaptiveAvgPool2d.shape([[2, 3, 4, 5]], attrs({ outputSize: [null, 2] }))).toEqual([2, 3, 4, 2]);
    // larger than the input: windows of one element, repeated
    expectClose(adaptiveAvgPool2d.forward([t64([1, 1, 2], [1, 2])], attrs({ outputSize: [2, 3] })), [1, 1.5, 2, 1, 1.5, 2]);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(adaptiveAvgPool2d, [rand([2, 2, 5, 7], 2)], { outputSize: [3, 4] });
    checkVjp(adaptiveAvgPool2d, [rand([3, 4, 4], 3)], { outputSize: 1 });
    checkVjp(adaptiveAvgPool2d, [t64([1, 1, 2, 3], () => 0)], { outputSize: [3, null] });
  });

  it('computes float32 as float64', () => {
    const x = rand([2, 8, 7, 7], 4);
    const y = adaptiveAvgPool2d.forward([cast(x, 'float32')], attrs({ outputSize: 1 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, adaptiveAvgPool2d.forward([x], attrs({ outputSize: 1 })).data, 1e-6);
  });

  it('rejects what torch rejects', () => {
    expect(() => adaptiveAvgPool2d.shape([[4, 5]], attrs({ outputSize: 1 }))).toThrow(/input must be \[N, C, H, W\] or \[C, H, W\]/);
    expect(() => attrs({})).toThrow();
    expect(() => attrs({ outputSize: 0 })).toThrow();
    expect(() => attrs({ outputSize: [1, 2, 3] })).toThrow();
  });
});
