import { describe, expect, it } from 'vitest';
import type { GemmBackend } from '../../../src/engine/kernels/gemm.js';
import { probeBackends } from '../../../src/engine/kernels/select.js';
import { ensureWasmBuilt } from './ensure-wasm.js';
import { check, label, make, TRANS } from './gemm-check.js';

ensureWasmBuilt();
const probes = probeBackends();
const available = probes.filter((p): p is { name: string; backend: GemmBackend } => p.backend !== null);

for (const p of probes.filter((q) => !q.backend)) {
  describe.skip(`gemm backend ${p.name}: unavailable here (${p.reason})`, () => {
    it('is skipped', () => {});
  });
}

describe('gemm backends', () => {
  it('the wasm backend is always available', () => {
    const wasm = probes.find((p) => p.name === 'wasm')!;
    expect(wasm.reason).toBeUndefined();
    expect(wasm.backend?.name).toBe('wasm');
  });
});

describe.each(available)('gemm on $name', ({ backend }) => {
  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    // Sizes around the wasm tiles (4×8 f32, 4×4 f64) and blocks (at most KC 256, MC 64, NC 512, cut
    // into equal blocks: k = 513 as 3 × 171, m = 67 as 36 + 31, n = 515 as two column blocks).
    const sizes: [number, number, number][] = [
      [1, 1, 1], [3, 5, 7], [4, 8, 16], [17, 33, 65], [5, 9, 600], [130, 520, 260], [70, 9, 513], [67, 515, 30],
    ];
    describe.each(TRANS.map((t) => [label(t), t] as const))('%s', (_name, [transA, transB]) => {
      it.each(sizes)('%i×%i×%i matches the reference', (m, n, k) => {
        check(backend, dtype, { transA, transB, m, n, k, seed: m + n + k });
      });

      it('honours lda/ldb/ldc above the minimum, view offsets, alpha and beta', () => {
        check(backend, dtype, { transA, transB, m: 17, n: 33, k: 65, alpha: -1.5, beta: 0.75, pad: [3, 5, 7], off: [1, 2, 3] });
        check(backend, dtype, { transA, transB, m: 6, n: 10, k: 300, alpha: 0.5, beta: -2, pad: [1, 1, 2], off: [5, 0, 1] });
      });

      it('ignores NaN in C when beta = 0', () => {
        const nan = { transA, transB, m: 9, n: 19, k: 270, alpha: 2, nanC: true, pad: [0, 0, 4] as [number, number, number] };
        // With beta = 1 the NaNs propagate; a backend with scratch memory (wasm) now holds NaN where the
        // next call's C goes, so the beta = 0 call also shows that stale scratch contents are never read.
        check(backend, dtype, { ...nan, beta: 1 });
        check(backend, dtype, { ...nan, beta: 0 });
      });
    });

    it('alpha = 0 and k = 0 give beta·C (zeros when beta = 0)', () => {
      check(backend, dtype, { transA: false, transB: false, m: 5, n: 6, k: 7, alpha: 0, beta: 3 });
      check(backend, dtype, { transA: true, transB: false, m: 5, n: 6, k: 0, alpha: 1, beta: -0.5, pad: [0, 0, 2] });
      check(backend, dtype, { transA: false, transB: true, m: 5, n: 6, k: 0, beta: 0, nanC: true });
    });

    it('m = 0 or n = 0 leaves C untouched', () => {
      check(backend, dtype, { transA: false, transB: false, m: 0, n: 6, k: 7, beta: 2 });
      check(backend, dtype, { transA: true, transB: true, m: 5, n: 0, k: 7, beta: 2 });
    });

    it('gives the same answers after a larger call (reused memory)', () => {
      check(backend, dtype, { transA: false, transB: true, m: 70, n: 90, k: 300, beta: 1, seed: 3 });
      check(backend, dtype, { transA: true, transB: false, m: 3, n: 7, k: 11, beta: 1, seed: 4 });
    });

    it('rejects operands too short for their shape, and mixed dtypes', () => {
      const a = make(dtype, 6);
      const b = make(dtype, 6);
      const c = make(dtype, 4);
      expect(() => backend.gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)).not.toThrow();
      expect(() => backend.gemm(false, false, 2, 2, 3, 1, a.subarray(1), 3, b, 2, 0, c, 2)).toThrow(RangeError);
      expect(() => backend.gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 3)).toThrow(RangeError);
      expect(() => backend.gemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2)).toThrow(RangeError);
      expect(() => backend.gemm(false, false, 2, 2, 3.5, 1, a, 3, b, 2, 0, c, 2)).toThrow(RangeError);
      const other = dtype === 'float32' ? new Float64Array(6) : new Float32Array(6);
      expect(() => backend.gemm(false, false, 2, 2, 3, 1, a, 3, other as typeof a, 2, 0, c, 2)).toThrow(TypeError);
    });
  });
});
