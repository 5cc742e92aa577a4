import type { Data } from '../tensor.js';

/**
 * Row-major general matrix product, BLAS semantics:
 *   C = alpha · op(A) · op(B) + beta · C,  op(X) = Xᵀ when its trans flag is set.
 * op(A) is m×k, op(B) is k×n, C is m×n; lda/ldb/ldc are the row strides of A, B, C as stored.
 * A, B and C share one dtype. Offsets are given by passing subarray views.
 */
export type GemmFn = <T extends Data>(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: T,
  lda: number,
  b: T,
  ldb: number,
  beta: number,
  c: T,
  ldc: number,
) => void;

export interface GemmBackend {
  /** 'openblas' | 'wasm' | 'reference' */
  name: string;
  gemm: GemmFn;
  /**
   * Σx² read where x lies (OpenBLAS's dsdot), accumulated in float64: non-finite when any element is.
   * Its squares may round to float32 first: within float32's precision, and +∞ for an element past
   * ~1.8e19.
   */
  sumSquares?: (x: Float32Array) => number;
}
