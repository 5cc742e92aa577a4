import type { GemmBackend, GemmFn } from './gemm.js';
import { selectBackend } from './select.js';

export type { GemmBackend, GemmFn } from './gemm.js';
export { probeBackends } from './select.js';
export { blasInfo, setBlasThreads } from './openblas.js';
export {
  ELEMENTWISE_MIN,
  leakyReluF32,
  leakyReluGradF32,
  reluF32,
  reluGradF32,
  sigmoidF32,
  sigmoidGradF32,
  siluF32,
  siluGradF32,
  sumSquaresF32,
  tanhF32,
  tanhGradF32,
} from './wasm.js';
export { countInFlight, newCoreShareState, shareCores, type CoreShare } from './threads.js';

// The backend is chosen once per thread (OpenBLAS when found, else WebAssembly). Importing this module
// loads nothing: the worker calls initKernels() at start-up, so a bad BLAS setting fails there, loudly;
// code that never calls it gets the BLAS=env choice on its first gemm. Tests switch backends explicitly.
let active: GemmBackend | null = null;

/** Picks and activates the backend for a BLAS setting ('auto' | 'off' | library path); returns its name. */
export function initKernels(blas: string = process.env.BLAS ?? 'auto'): string {
  active = selectBackend(blas);
  return active.name;
}

export function setGemmBackend(backend: GemmBackend): void {
  active = backend;
}

export function gemmBackend(): GemmBackend {
  if (!active) initKernels();
  return active!;
}

export const gemm: GemmFn = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
  gemmBackend().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
