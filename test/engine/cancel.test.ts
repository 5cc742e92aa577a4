import { describe, expect, it } from 'vitest';
import { Cancelled, cancellable, gradients } from '../../src/engine/index.js';
import { LIMITS, twoWeightJob } from './helpers.js';

// Cooperative cancellation: the passes ask between nodes whether to stop.

describe('cancellable', () => {
  it('stops a computation between two nodes once asked, forward or backward', () => {
    // the two-weight chain has 3 nodes: checks 1–3 are the forward pass, 4–6 the backward pass
    for (const stopAt of [1, 3, 4, 6]) {
      let checks = 0;
      expect(() => cancellable(() => ++checks >= stopAt, () => gradients(twoWeightJob(), LIMITS))).toThrow(Cancelled);
      expect(checks).toBe(stopAt);
    }
  });

  it('runs to the end when never asked, and only inside its call', () => {
    let checks = 0;
    const r = cancellable(() => (checks++, false), () => gradients(twoWeightJob(), LIMITS));
    expect(Array.from(r.gradients.w1!.data)).toEqual([15]);
    expect(checks).toBe(6);
    // outside, nothing asks: a stop that would always say yes is not consulted
    expect(Array.from(gradients(twoWeightJob(), LIMITS).gradients.w2!.data)).toEqual([-5]);
  });

  it('restores the outer request when a nested call ends', () => {
    let outer = 0;
    expect(() =>
      cancellable(
        () => ++outer > 3,
        () => {
          cancellable(() => false, () => gradients(twoWeightJob(), LIMITS));
          return gradients(twoWeightJob(), LIMITS);
        },
      ),
    ).toThrow(Cancelled);
    expect(outer).toBe(4);
  });
});

describe('a long product', () => {
  // 64 × 48 × 40 multiply-adds, over the shrunk split: blocks of block / (n·k) = 16 rows
  const [m, n, k] = [64, 48, 40];
  const rand = (len: number, seed: number) => Float64Array.from({ length: len }, (_, i) => Math.sin(seed * 7919 + i * 0.37));
  const shrunk = { split: 64 * 48 * 40 - 1, block: 16 * 48 * 40, minRows: 4 };

  async function withBlocks<T>(f: (gemm: typeof import('../../src/engine/kernels/index.js').gemm) => T): Promise<T> {
    const kernels = await import('../../src/engine/kernels/index.js');
    const saved = { ...kernels.GEMM_BLOCKS };
    Object.assign(kernels.GEMM_BLOCKS, shrunk);
    try {
      return f(kernels.gemm);
    } finally {
      Object.assign(kernels.GEMM_BLOCKS, saved);
    }
  }

  it('is computed in row blocks, the same product for every transposition, when a stop can be asked for', async () => {
    await withBlocks((gemm) => {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = rand(m * k, 1);
        const b = rand(k * n, 2);
        const whole = rand(m * n, 3);
        const blocked = Float64Array.from(whole);
        gemm(transA, transB, m, n, k, 0.5, a, transA ? m : k, b, transB ? k : n, 1, whole, n);
        let checks = 0;
        cancellable(() => (checks++, false), () => gemm(transA, transB, m, n, k, 0.5, a, transA ? m : k, b, transB ? k : n, 1, blocked, n));
        expect(checks).toBe(4);
        for (let i = 0; i < m * n; i++) expect(blocked[i]).toBeCloseTo(whole[i]!, 12);
      }
    });
  });

  it('stops between two row blocks once asked: the rows after are not computed', async () => {
    await withBlocks((gemm) => {
      const c = new Float64Array(m * n);
      let checks = 0;
      expect(() => cancellable(() => ++checks > 1, () => gemm(false, false, m, n, k, 1, rand(m * k, 1), k, rand(k * n, 2), n, 0, c, n))).toThrow(Cancelled);
      expect(checks).toBe(2);
      expect(c.subarray(0, 16 * n).some((x) => x !== 0)).toBe(true);
      expect(c.subarray(16 * n).every((x) => x === 0)).toBe(true);
    });
  });

  it('is computed whole outside a cancellable computation', async () => {
    await withBlocks((gemm) => {
      const c = new Float64Array(m * n);
      gemm(false, false, m, n, k, 1, rand(m * k, 1), k, rand(k * n, 2), n, 0, c, n);
      expect(c.every((x) => x !== 0)).toBe(true);
    });
  });
});

describe('a long broadcast', () => {
  it('stops between rows once asked, every 65,536 elements or so; whole outside a cancellable computation', async () => {
    const { forEachRow } = await import('../../src/engine/tensor.js');
    // [512, 1] · [1, 512]: 262,144 elements in rows of 512
    const shape = [512, 512];
    const walk = (seen: number[]) => forEachRow(shape, [1, 0], [0, 1], (o) => void seen.push(o));
    const whole: number[] = [];
    walk(whole);
    expect(whole.length).toBe(512);
    let checks = 0;
    const seen: number[] = [];
    expect(() => cancellable(() => ++checks >= 2, () => walk(seen))).toThrow(Cancelled);
    // asked at 65,536 and 131,072 elements (rows 128 and 256), told to stop the second time
    expect(checks).toBe(2);
    expect(seen.length).toBe(256);
  });
});
