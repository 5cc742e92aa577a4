import type { GemmBackend } from './gemm.js';

/** Plain TypeScript GEMM: slow and obviously right; the oracle the fast kernels are tested against. */
export const referenceBackend: GemmBackend = {
  name: 'reference',
  gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[p * lda + i]! : a[i * lda + p]!;
          const bv = transB ? b[j * ldb + p]! : b[p * ldb + j]!;
          s += av * bv;
        }
        const o = i * ldc + j;
        c[o] = alpha * s + (beta === 0 ? 0 : beta * c[o]!);
      }
    }
  },
};
