import { describe, expect, it, vi } from 'vitest';

// Without build/gemm.wasm (a build that skipped the wasm step, a file removed from an image), the
// elementwise kernels decline and every op runs its JS loop: the same results, nothing thrown. This
// file's module graph sees no build/gemm.wasm (vitest keeps module mocks to the file that declares them).
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const hidden = (p: unknown) => String(p).endsWith('gemm.wasm');
  return {
    ...fs,
    existsSync: (p: Parameters<typeof fs.existsSync>[0]) => !hidden(p) && fs.existsSync(p),
    readFileSync: ((p: Parameters<typeof fs.readFileSync>[0], ...rest: unknown[]) => {
      if (hidden(p)) throw Object.assign(new Error(`ENOENT: ${String(p)}`), { code: 'ENOENT' });
      return (fs.readFileSync as (...a: unknown[]) => unknown)(p, ...rest);
    }) as typeof fs.readFileSync,
  };
});

const { addF32, addTiledF32, columnSumsF32, mulF32, scaledSoftmaxRowsF32, scaleRowsF32, leakyReluF32, leakyReluGradF32, reluF32, reluGradF32, sigmoidF32, sigmoidGradF32, siluF32, siluGradF32, sumSquaresF32, sumTilesF32, tanhF32, tanhGradF32 } = await import('../../../src/engine/kernels/index.js');
const { relu } = await import('../../../src/engine/ops/relu.js');
const { tanh } = await import('../../../src/engine/ops/tanh.js');
const { gelu } = await import('../../../src/engine/ops/gelu.js');
const { transpose } = await import('../../../src/engine/ops/transpose.js');
const { geluF32Rule, geluGradF32Rule } = await import('../../../src/engine/math/gelu-f32.js');
const { cast, firstNonFinite, sumSquares } = await import('../../../src/engine/tensor.js');
const { recycling } = await import('../../../src/engine/buffers.js');
const { maxPool2x2F32, maxPoolScatterF32 } = await import('../../../src/engine/kernels/pool.js');
const { maxPool2d } = await import('../../../src/engine/ops/max-pool2d.js');
const { conv2d } = await import('../../../src/engine/ops/conv2d.js');
const { convWeightGradF32 } = await import('../../../src/engine/kernels/conv-direct.js');
const { naiveConv2d } = await import('../ops/naive-conv.js');
const { expectClose, rand } = await import('../../helpers/op-check.js');

describe('without build/gemm.wasm', () => {
  const n = 5000; // above ELEMENTWISE_MIN: the kernels would take it
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 4);

  it('the elementwise kernels decline, writing nothing', () => {
    const y = new Float32Array(n).fill(7);
    expect(reluF32(x, y)).toBe(false);
    expect(tanhF32(x, y)).toBe(false);
    expect(reluGradF32(x, x, y)).toBe(false);
    expect(tanhGradF32(x, x, y)).toBe(false);
    expect(sigmoidGradF32(x, x, y)).toBe(false);
    expect(sigmoidF32(x, y)).toBe(false);
    expect(siluF32(x, y)).toBe(false);
    expect(siluGradF32(x, x, y)).toBe(false);
    expect(leakyReluF32(x, y, 0.1)).toBe(false);
    expect(leakyReluGradF32(x, x, y, 0.1)).toBe(false);
    expect(addF32(x, x, y)).toBe(false);
    expect(mulF32(x, x, y)).toBe(false);
    expect(addTiledF32(x, x.subarray(0, 50), y)).toBe(false);
    expect(sumTilesF32(x, y.subarray(0, 50))).toBe(false);
    expect(y.every((v) => v === 7)).toBe(true);
    expect(sumSquaresF32(x)).toBeNull();
    const sums = new Float64Array(50).fill(7);
    expect(columnSumsF32(x, 100, 50, sums)).toBe(false);
    expect(sums.every((v) => v === 7)).toBe(true);
    expect(scaledSoftmaxRowsF32(x, 100, 50, new Float64Array(100), y)).toBe(false);
    expect(scaleRowsF32(y, 100, 50, new Float64Array(100))).toBe(false);
    const pooled = new Float32Array(4).fill(7);
    expect(maxPool2x2F32(x.subarray(0, 16), 1, 4, 4, 2, 2, pooled, new Int32Array(4))).toBe(false);
    expect(pooled.every((v) => v === 7)).toBe(true);
    expect(maxPoolScatterF32(new Float32Array(4), new Int32Array(4), 1, 16, pooled)).toBe(false);
    expect(pooled.every((v) => v === 7)).toBe(true);
  });

  it('max_pool2d takes float32 2 × 2 windows with its JS loop', () => {
    const t = { shape: [2, 10, 25], data: x.subarray(0, 500) };
    const y = maxPool2d.forward([t], maxPool2d.parseAttrs({ kernelSize: 2 }));
    expect(y.shape).toEqual([2, 5, 12]);
    y.data.forEach((v, o) => {
      const [q, r, c] = [Math.floor(o / 60), Math.floor(o / 12) % 5, o % 12];
      const k = q * 250 + 2 * r * 25 + 2 * c;
      expect(v).toBe(Math.max(x[k]!, x[k + 1]!, x[k + 25]!, x[k + 26]!));
    });
    // and its gradient: each output's g at its window's maximum, zeros elsewhere (the last column of 25 in no window)
    const g = { shape: y.shape, data: Float32Array.from(y.data, (_, o) => o + 1) };
    const [dx] = maxPool2d.vjp([t], y, g, maxPool2d.parseAttrs({ kernelSize: 2 }));
    const want = new Float32Array(500);
    y.data.forEach((v, o) => {
      const [q, r, c] = [Math.floor(o / 60), Math.floor(o / 12) % 5, o % 12];
      const k = q * 250 + 2 * r * 25 + 2 * c;
      want[[k, k + 1, k + 25, k + 26].find((i) => x[i] === v)!] = o + 1;
    });
    expect(Array.from(dx!.data)).toEqual(Array.from(want));
  });

  it('gelu on float32 gives the float32 rule of src/engine/math/gelu-f32.ts from its JS loops, as the kernel does', () => {
    const t = { shape: [n], data: x };
    const y = gelu.forward([t], {});
    y.data.forEach((v, i) => expect(v).toBe(geluF32Rule(x[i]!)));
    const g = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => 1 + (i % 5)) };
    const [gx] = gelu.vjp([t], y, g, {});
    gx!.data.forEach((v, i) => expect(v).toBe(geluGradF32Rule(x[i]!, g.data[i]!)));
  });

  it('transpose copies runs the kernel would have taken with its JS loop', () => {
    const [A, B, C] = [40, 8, 6];
    const t = { shape: [A, B, C], data: Float32Array.from({ length: A * B * C }, (_, i) => i) };
    const y = transpose.forward([t], transpose.parseAttrs({ perm: [1, 0, 2] }));
    const want: number[] = [];
    for (let b = 0; b < B; b++) for (let a = 0; a < A; a++) for (let c = 0; c < C; c++) want.push((a * B + b) * C + c);
    expect(Array.from(y.data)).toEqual(want);
  });

  it('relu, tanh, the sum of squares and the finite check give their results from the JS loops', () => {
    const t = { shape: [n], data: x };
    const r = relu.forward([t], {});
    expect(Array.from(r.data)).toEqual(Array.from(x, (v) => Math.fround(Math.max(v, 0))));
    const g = { shape: [n], data: new Float32Array(n).fill(2) };
    const [gx] = relu.vjp([t], r, g, {});
    expect(Array.from(gx!.data)).toEqual(Array.from(x, (v) => (v > 0 ? 2 : 0)));
    const th = tanh.forward([t], {});
    th.data.forEach((v, i) => expect(v).toBe(Math.fround(Math.tanh(x[i]!))));
    const [tg] = tanh.vjp([t], th, g, {});
    tg!.data.forEach((v, i) => expect(v).toBe(Math.fround(2 * (1 - th.data[i]! * th.data[i]!))));
    let want = 0;
    for (const v of x) want += v * v;
    expect(Math.abs(sumSquares(t) - want) / want).toBeLessThan(1e-12);
    const bad = x.slice();
    bad[4321] = Number.NaN;
    expect(firstNonFinite(x)).toBe(-1);
    expect(firstNonFinite(bad)).toBe(4321);
  });

  it('conv2d unrolls and folds with its JS loops: padding (and "same"\'s odd one after), stride, dilation, groups, rows as wide as the input', () => {
    const x = rand([3, 4, 7, 6], 1);
    const cases: [number[], unknown, [number, number], [number, number], [number, number], number][] = [
      [[3, 4, 3, 3], { padding: 1 }, [1, 1], [1, 1], [1, 1], 1],
      [[6, 2, 3, 2], { stride: [2, 1], padding: [1, 2], groups: 2 }, [2, 1], [1, 2], [1, 1], 2],
      [[2, 4, 4, 4], { padding: 'same' }, [1, 1], [1, 1], [1, 1], 1],
      // an even kernel: "same" pads only after
      [[2, 4, 2, 2], { padding: 'same' }, [1, 1], [0, 0], [1, 1], 1],
      [[5, 4, 3, 2], {}, [1, 1], [0, 0], [1, 1], 1],
      [[4, 2, 3, 2], { padding: [2, 0], dilation: [1, 2], groups: 2 }, [1, 1], [2, 0], [1, 2], 2],
    ];
    cases.forEach(([shape, raw, stride, pad, dilation, groups], k) => {
      const [w, b] = [rand(shape, 10 + k), rand([shape[0]!], 20 + k)];
      const a = conv2d.parseAttrs(raw);
      // each call twice, the second on the buffers the first left behind: the loops must not count on zeros
      const twice = <T>(f: () => T): T => (recycling(f), recycling(f));
      const y = twice(() => conv2d.forward([x, w, b], a));
      const [oh, ow] = y.shape.slice(-2) as [number, number];
      const g = rand(y.shape, 30 + k);
      const ref = naiveConv2d(x, w, b, { stride, pad, dilation, groups, oh, ow }, g);
      expectClose(y, ref.y, 1e-12);
      const [dx, dw, db] = twice(() => conv2d.vjp([x, w, b], y, g, a));
      expectClose(dx!, ref.dx, 1e-12);
      expectClose(dw!, ref.dw, 1e-12);
      expectClose(db!, ref.db, 1e-12);
    });
  });

  it('conv2d\'s float32 weight gradient of one input channel a group goes through the unrolled matrix', () => {
    const [x, w, b] = [rand([2, 1, 9, 11], 40), rand([3, 1, 3, 3], 41), rand([3], 42)].map((t) => cast(t, 'float32'));
    const a = conv2d.parseAttrs({ padding: 1 });
    const y = conv2d.forward([x!, w!, b!], a);
    const g = cast(rand(y.shape, 43), 'float32');
    const ref = naiveConv2d(x!, w!, b, { stride: [1, 1], pad: [1, 1], dilation: [1, 1], groups: 1, oh: 9, ow: 11 }, g);
    const geo = { n: 2, h: 9, w: 11, o: 3, kh: 3, kw: 3, sh: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 9, ow: 11, groups: 1, og: 3 };
    const untouched = new Float32Array(27);
    expect(convWeightGradF32(geo, x!.data as Float32Array, g.data as Float32Array, untouched, null)).toBe(false);
    expect(untouched.every((v) => v === 0)).toBe(true);
    const [, dw, db] = conv2d.vjp([x!, w!, b!], y, g, a, [false, true, true]);
    expect(dw!.data).toBeInstanceOf(Float32Array);
    expectClose(dw!, ref.dw, 1e-5);
    expectClose(db!, ref.db, 1e-5);
  });
});
