import type { GemmBackend, GemmFn } from './gemm.js';
import { referenceBackend } from './reference.js';

export type { GemmBackend, GemmFn } from './gemm.js';

// The kernel backend is chosen once per thread at start-up (OpenBLAS when found, else WebAssembly);
// tests switch it to run the same suite on every backend.
let active: GemmBackend = referenceBackend;

export function setGemmBackend(backend: GemmBackend): void {
  active = backend;
}

export function gemmBackend(): GemmBackend {
  return active;
}

export const gemm: GemmFn = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
  active.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
