import { describe, expect, it } from 'vitest';
import { avgPool2d } from '../../../src/engine/ops/avg-pool2d.js';
import { cast } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

const attrs = (raw: unknown) => avgPool2d.parseAttrs(raw);
const x = t64([1, 1, 4, 5], (i) => i + 1);

describe('avg_pool2d', () => {
  it('averages each window; the divisor with padding and ceilMode is torch\'s (torch-computed)', () => {
    expect(attrs({ kernelSize: 2 })).toEqual({ kernelSize: 2, padding: 0, ceilMode: false, countIncludePad: true });
    expectClose(avgPool2d.forward([x], attrs({ kernelSize: 2 })), [4, 6, 14, 16]);
    expectClose(avgPool2d.forward([x], attrs({ kernelSize: 2, ceilMode: true })), [4, 6, 7.5, 14, 16, 17.5]);
    const a = { kernelSize: 3, stride: 2, padding: 1, ceilMode: true };
    const y = avgPool2d.forward([x], attrs(a));
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expectClose(y, [16 / 9, 33 / 9, 28 / 9, 69 / 9, 13, 87 / 9, 5.5, 9, 6.5], 1e-14);
    expectClose(avgPool2d.forward([x], attrs({ ...a, countIncludePad: false })), [4, 5.5, 7, 11.5, 13, 14.5, 16.5, 18, 19.5], 1e-14);
    expectClose(avgPool2d.forward([x], attrs({ kernelSize: 2, divisorOverride: 2 })), [8, 12, 28, 32]);
  });

  it('spreads g over each window by its divisor (hand-computed)', () => {
    const a = attrs({ kernelSize: [1, 2], stride: 1 });
    const [dx] = avgPool2d.vjp([t64([1, 1, 3], [1, 2, 3])], t64([1, 1, 2], [0, 0]), t64([1, 1, 2], [2, 4]), a);
    expectClose(dx!, [1, 3, 2]);
  });

  it('has a VJP matching finite differences, with padding, ceilMode, countIncludePad and divisorOverride', () => {
    checkVjp(avgPool2d, [rand([2, 2, 5, 6], 1)], { kernelSize: 2 });
    checkVjp(avgPool2d, [rand([1, 2, 5, 7], 2)], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true });
    checkVjp(avgPool2d, [rand([2, 5, 7], 3)], { kernelSize: [3, 2], stride: [2, 3], padding: [1, 1], ceilMode: true, countIncludePad: false });
    checkVjp(avgPool2d, [t64([1, 1, 3, 3], () => 0)], { kernelSize: 2, stride: 1, divisorOverride: 3 });
  });

  it('computes float32 as float64', () => {
    const x64 = rand([2, 3, 9, 9], 4);
    const a = attrs({ kernelSize: 3, stride: 2, padding: 1 });
    const y = avgPool2d.forward([cast(x64, 'float32')], a);
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, avgPool2d.forward([x64], a).data, 1e-6);
  });

  it('rejects shapes and attributes that torch rejects', () => {
    expect(() => avgPool2d.shape([[5]], attrs({ kernelSize: 2 }))).toThrow(/input must be \[N, C, H, W\] or \[C, H, W\]/);
    expect(() => avgPool2d.shape([[1, 1, 1, 5]], attrs({ kernelSize: 2 }))).toThrow(/does not fit the input \[1, 5\]/);
    expect(() => attrs({ kernelSize: 3, padding: 2 })).toThrow(/at most half/);
    expect(() => attrs({ kernelSize: 2, dilation: 2 })).toThrow();
    expect(() => attrs({ kernelSize: 2, divisorOverride: 0 })).toThrow();
  });
});
