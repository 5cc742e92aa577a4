import type { Data } from '../tensor.js';

/**
 * Validates GEMM arguments before they reach native or wasm memory: neither OpenBLAS nor the wasm
 * kernel bounds-checks, so a short array would read or write past its end instead of throwing.
 * Returns false when the product is empty (m = 0 or n = 0) and there is nothing to do.
 */
export function checkGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Data,
  lda: number,
  b: Data,
  ldb: number,
  c: Data,
  ldc: number,
): boolean {
  size('m', m);
  size('n', n);
  size('k', k);
  size('lda', lda);
  size('ldb', ldb);
  size('ldc', ldc);
  if (a.constructor !== c.constructor || b.constructor !== c.constructor) {
    throw new TypeError('gemm: A, B and C must share one dtype');
  }
  if (m === 0 || n === 0) return false;
  // Stored shapes: A is m×k (k×m when transposed), B is k×n (n×k when transposed).
  checkOperand('A', a, transA ? k : m, transA ? m : k, lda);
  checkOperand('B', b, transB ? n : k, transB ? k : n, ldb);
  checkOperand('C', c, m, n, ldc);
  return true;
}

/** Number of elements a rows×cols matrix with row stride ld spans. */
export function extent(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function size(name: string, v: number): void {
  // Both FFI targets take 32-bit ints.
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`gemm: ${name} = ${v} is not a valid size`);
}

function checkOperand(name: string, x: Data, rows: number, cols: number, ld: number): void {
  if (rows === 0 || cols === 0) return;
  if (ld < cols) throw new RangeError(`gemm: ld${name.toLowerCase()} = ${ld} < ${cols} columns of ${name}`);
  const need = extent(rows, cols, ld);
  if (x.length < need) throw new RangeError(`gemm: ${name} has ${x.length} elements, needs ${need}`);
}
