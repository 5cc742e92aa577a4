import { cancelWatched, stopIfCancelled } from '../cancel.js';
import type { GemmBackend, GemmFn } from './gemm.js';
import { selectBackend } from './select.js';
import { sumSquaresF32 as wasmSumSquaresF32 } from './wasm.js';

export type { GemmBackend, GemmFn } from './gemm.js';
export { probeBackends } from './select.js';
export { blasInfo, holdBlasThreads, setBlasThreads } from './openblas.js';
export {
  addF32,
  addTiledF32,
  columnSumsF32,
  copyRunsOf,
  ELEMENTWISE_MIN,
  expRowsF32,
  geluF32,
  geluGradF32,
  geluSlopeF32,
  layerNormF32,
  layerNormGradF32,
  leakyReluF32,
  leakyReluGradF32,
  mulF32,
  reluF32,
  reluGradF32,
  scaledSoftmaxRowsF32,
  scaleRowsF32,
  sigmoidF32,
  sigmoidGradF32,
  siluF32,
  siluGradF32,
  softmaxRowsF32,
  sumTilesF32,
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

/** Below this many elements the WebAssembly kernel's copy costs less than a call into the library. */
const BLAS_CHECK_MIN = 4096;

/**
 * Σx² in float64 (gradient norms; non-finite when an element of x is, which is how tensors are checked
 * for NaN and ±∞), or null when none is cheap here (then the caller sums in JS): the active backend's,
 * reading x in place (within float32's precision), else WebAssembly's, exact to float64 rounding, which
 * copies x into its memory a chunk at a time. Never loads a backend: the event loop has one only when it
 * computes in place. A sum the backend made non-finite is taken again on WebAssembly: its squares
 * overflow past ~1.8e19.
 */
export function sumSquaresF32(x: Float32Array): number | null {
  const inPlace = x.length >= BLAS_CHECK_MIN ? active?.sumSquares?.(x) : undefined;
  return inPlace !== undefined && Number.isFinite(inPlace) ? inPlace : wasmSumSquaresF32(x);
}

export function gemmBackend(): GemmBackend {
  if (!active) initKernels();
  return active!;
}

/**
 * A product of more than `split` multiply-adds, computed where a stop can be asked for
 * (engine/cancel.ts), runs in blocks of rows of C of about `block` multiply-adds each, with a look at
 * the stop flag before each: a stop is seen within one block, not after the whole product. Blocks of
 * at least `minRows` rows keep B's repacking per block small beside the block's own work. (Tests
 * shrink them.)
 */
export const GEMM_BLOCKS = { split: 2 ** 26, block: 2 ** 25, minRows: 16 };

export const gemm: GemmFn = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
  const backend = gemmBackend();
  const work = m * n * k;
  if (work <= GEMM_BLOCKS.split || !cancelWatched()) {
    backend.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const rows = Math.max(GEMM_BLOCKS.minRows, Math.ceil(GEMM_BLOCKS.block / (n * k)));
  for (let i = 0; i < m; i += rows) {
    stopIfCancelled();
    // rows i.. of op(A): rows of A, or columns of a transposed A
    backend.gemm(transA, transB, Math.min(rows, m - i), n, k, alpha, a.subarray(transA ? i : i * lda), lda, b, ldb, beta, c.subarray(i * ldc), ldc);
  }
};
