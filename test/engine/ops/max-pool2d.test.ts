import { describe, expect, it } from 'vitest';
import { recycling } from '../../../src/engine/buffers.js';
import { maxPool2d } from '../../../src/engine/ops/max-pool2d.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

const attrs = (raw: unknown) => maxPool2d.parseAttrs(raw);
// a 4 × 5 plane with ties inside windows
const x = t64([1, 1, 4, 5], [1, 3, 3, 0, 2, 4, -1, 4, 2, 2, 0, 5, 1, 1, -3, 2, 2, 0, 6, 1]);

describe('max_pool2d', () => {
  it('takes the maximum of each window, with ceilMode a last partial one (torch-computed)', () => {
    expect(attrs({ kernelSize: 2 })).toEqual({ kernelSize: 2, padding: 0, dilation: 1, ceilMode: false });
    const y = maxPool2d.forward([x], attrs({ kernelSize: 2, ceilMode: true }));
    expect(y.shape).toEqual([1, 1, 2, 3]);
    expectClose(y, [4, 4, 2, 5, 6, 1]);
    expect(maxPool2d.shape([x.shape], attrs({ kernelSize: 2 }))).toEqual([1, 1, 2, 2]);
    const yp = maxPool2d.forward([x], attrs({ kernelSize: 3, stride: 2, padding: 1 }));
    expect(yp.shape).toEqual([1, 1, 2, 3]);
    expectClose(yp, [4, 4, 2, 5, 6, 6]);
  });

  it('sends each window\'s gradient to its first maximum, adding where windows overlap (torch-computed)', () => {
    const a = attrs({ kernelSize: 2, ceilMode: true });
    const [dx] = maxPool2d.vjp([x], maxPool2d.forward([x], a), t64([1, 1, 2, 3], [1, 2, 3, 4, 5, 6]), a);
    expectClose(dx!, [0, 0, 0, 0, 3, 1, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 5, 6]);
    const b = attrs({ kernelSize: 3, stride: 2, padding: 1 });
    const [dxp] = maxPool2d.vjp([x], maxPool2d.forward([x], b), t64([1, 1, 2, 3], () => 1), b);
    expectClose(dxp!, [0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0]);
  });

  it('gives the same gradient for an output it did not make (where the maxima are is then recomputed)', () => {
    const a = attrs({ kernelSize: 3, stride: 2, padding: 1 });
    const y = maxPool2d.forward([x], a);
    const g = t64(y.shape, (i) => i + 1);
    const copy = { shape: y.shape, data: y.data.slice() };
    const ref = maxPool2d.vjp([x], y, g, a)[0]!.data;
    expectClose(maxPool2d.vjp([x], copy, g, a)[0]!, ref);
    // and for its own output over other values (the kept indices no longer point at its maxima)
    const other = t64(x.shape, (i) => -x.data[i]!);
    const y2 = maxPool2d.forward([other], a);
    y2.data.set(y.data);
    expectClose(maxPool2d.vjp([x], y2, g, a)[0]!, ref);
  });

  it('does not use indices kept in the buffer cache by a call that has ended', () => {
    const a = attrs({ kernelSize: 2 });
    // 4096 outputs: their indices are a buffer of the cache's size
    const big = rand([1, 4, 64, 64], 50);
    const y = recycling(() => maxPool2d.forward([big], a));
    const g = rand(y.shape, 51);
    const ref = maxPool2d.vjp([big], maxPool2d.forward([big], a), g, a)[0]!;
    const dx = recycling(() => {
      // handed the buffer of y's indices (the first call returned y, not them), and overwrites it
      maxPool2d.forward([rand(big.shape, 52)], a);
      return maxPool2d.vjp([big], y, g, a)[0]!;
    });
    expectClose(dx, ref.data);
  });

  it('propagates NaN as torch: a NaN in a window is its maximum', () => {
    const y = maxPool2d.forward([t64([1, 2, 2], [1, NaN, 3, 2])], attrs({ kernelSize: 2 }));
    expect(Number.isNaN(y.data[0])).toBe(true);
  });

  it('has a VJP matching finite differences away from ties, with padding, stride, dilation, ceilMode', () => {
    // distinct values: a tie is a kink where central differences see half of torch's one-sided choice
    const distinct = (shape: number[], seed: number) => {
      const t = rand(shape, seed);
      t.data.forEach((v, i) => (t.data[i] = v + i * 1e-3));
      return t;
    };
    checkVjp(maxPool2d, [distinct([2, 2, 5, 6], 1)], { kernelSize: 2 });
    checkVjp(maxPool2d, [distinct([1, 3, 7, 6], 2)], { kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], ceilMode: true });
    checkVjp(maxPool2d, [distinct([2, 7, 7], 3)], { kernelSize: 3, dilation: 2, padding: 1, stride: 2 });
    // negative values only: the padding never wins
    checkVjp(maxPool2d, [t64([1, 1, 4, 4], (i) => -1 - i * 0.1)], { kernelSize: 3, padding: 1, stride: 1 });
  });

  it('computes float32 as float64', () => {
    const x64 = rand([2, 3, 9, 9], 5);
    const a = attrs({ kernelSize: 3, stride: 2, ceilMode: true });
    const y = maxPool2d.forward([cast(x64, 'float32')], a);
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, maxPool2d.forward([x64], a).data, 1e-7);
  });

  it('takes 2 × 2 windows of float32 (the SIMD kernel) as the loops do: ties, NaNs, rows of odd width', () => {
    const a = attrs({ kernelSize: 2 });
    for (const shape of [[2, 3, 9, 19], [1, 2, 8, 16], [3, 5, 7]]) {
      // small integers: many ties; every 7th a NaN
      const x64 = t64(shape, (i) => (i % 7 === 3 ? NaN : ((i * 5) % 4) - (i % 3)));
      const x32 = cast(x64, 'float32');
      const [y64, y32] = [maxPool2d.forward([x64], a), maxPool2d.forward([x32], a)];
      expect(Array.from(y32.data)).toEqual(Array.from(y64.data));
      const g = t64(y64.shape, (i) => i + 1);
      const [dx64] = maxPool2d.vjp([x64], y64, g, a);
      const [dx32] = maxPool2d.vjp([x32], y32, cast(g, 'float32'), a);
      expect(Array.from(dx32!.data)).toEqual(Array.from(dx64!.data));
    }
  });

  it('adds the gradients of overlapping float32 windows as float64 does (the scatter kernel)', () => {
    const a = attrs({ kernelSize: 3, stride: 1, padding: 1 });
    // small integers: many ties, so an element is the maximum of several windows
    const x64 = t64([2, 3, 9, 11], (i) => ((i * 5) % 4) - (i % 3));
    const y64 = maxPool2d.forward([x64], a);
    const y32 = maxPool2d.forward([cast(x64, 'float32')], a);
    const g = t64(y64.shape, (i) => (i % 9) - 4);
    const [dx64] = maxPool2d.vjp([x64], y64, g, a);
    const [dx32] = maxPool2d.vjp([cast(x64, 'float32')], y32, cast(g, 'float32'), a);
    expect(dx32!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(dx32!.data)).toEqual(Array.from(dx64!.data));
  });

  it('rejects shapes and attributes that torch rejects', () => {
    expect(() => maxPool2d.shape([[4, 5]], attrs({ kernelSize: 2 }))).toThrow(/input must be \[N, C, H, W\] or \[C, H, W\], got \[4, 5\]/);
    expect(() => maxPool2d.shape([[1, 1, 2, 5]], attrs({ kernelSize: 3 }))).toThrow(ShapeError);
    expect(() => maxPool2d.shape([[1, 1, 2, 5]], attrs({ kernelSize: 3 }))).toThrow(/window \[3, 3\] \(dilation \[1, 1\]\) does not fit the input \[2, 5\]/);
    expect(maxPool2d.shape([[1, 1, 2, 5]], attrs({ kernelSize: 3, padding: 1 }))).toEqual([1, 1, 1, 2]);
    expect(() => attrs({})).toThrow();
    expect(() => attrs({ kernelSize: 2, padding: 2 })).toThrow(/at most half the kernel size/);
    expect(() => attrs({ kernelSize: [4, 2], padding: [2, 2] })).toThrow(/at most half/);
    expect(() => attrs({ kernelSize: 2, stride: 0 })).toThrow();
    expect(() => attrs({ kernelSize: 2, countIncludePad: true })).toThrow();
  });
});
