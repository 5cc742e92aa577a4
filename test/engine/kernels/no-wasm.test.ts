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

const { leakyReluF32, leakyReluGradF32, reluF32, reluGradF32, sigmoidF32, sigmoidGradF32, siluF32, siluGradF32, sumSquaresF32, tanhF32, tanhGradF32 } = await import('../../../src/engine/kernels/index.js');
const { relu } = await import('../../../src/engine/ops/relu.js');
const { tanh } = await import('../../../src/engine/ops/tanh.js');
const { firstNonFinite, sumSquares } = await import('../../../src/engine/tensor.js');

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
    expect(y.every((v) => v === 7)).toBe(true);
    expect(sumSquaresF32(x)).toBeNull();
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
});
