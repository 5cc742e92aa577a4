// WebAssembly SIMD GEMM, Goto/BLIS style: B is packed KC×NC at a time, A MC×KC at a time, and a
// 4-row register tile walks the packed panels. The JS side copies operands into linear memory above
// operandBase() and C back out; C here is row-major with stride ldc.
import { A_STEP, microF32, microF64 } from './micro';
import { broadcastPanel, copyPanel, gatherPanel } from './pack';

const MR = 4;
// Panel width in bytes: NR = 8 float32 or 4 float64 columns (two v128).
const NR_BYTES = 32;
// A block MC×KC (256 KiB: A is packed broadcast, 16 bytes an element) stays in L2; a KC×NR sliver of
// B (8 KiB) in L1. Blocks are the largest sizes; a dimension is cut into equal blocks no larger, so
// k = 784 runs as 4 × 196 rather than 3 × 256 + 16.
const KC = 256;
const MC = 64;
const NC = 512;

const PA: usize = (__heap_base + 63) & ~63;
const PB: usize = PA + MC * KC * A_STEP / MR;
const TILE: usize = PB + KC * NC * 8;
const END: usize = TILE + MR * NR_BYTES;

/** First byte the caller may use for operands; everything below is this module's workspace. */
export function operandBase(): usize {
  return END;
}

export function sgemm(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32,
): void {
  gemm<f32>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

export function dgemm(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32,
): void {
  gemm<f64>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

function gemm<T>(
  transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: T,
  a: usize, lda: i32, b: usize, ldb: i32, beta: T, c: usize, ldc: i32,
): void {
  if (m <= 0 || n <= 0) return;
  // Like reference BLAS, alpha = 0 or k = 0 leaves only beta·C and reads neither A nor B.
  if (k <= 0 || alpha == 0) {
    scale<T>(m, n, beta, c, ldc);
    return;
  }
  const sz = <usize>sizeof<T>();
  const NR = NR_BYTES / sizeof<T>();
  const ldaB = <usize>lda * sz, ldbB = <usize>ldb * sz, ldcB = <usize>ldc * sz;
  const NCb = block(n, NC, NR), KCb = block(k, KC, 1), MCb = block(m, MC, MR);
  for (let jc = 0; jc < n; jc += NCb) {
    const nc = min(NCb, n - jc);
    for (let pc = 0; pc < k; pc += KCb) {
      const kc = min(KCb, k - pc);
      // Later K blocks accumulate onto what the first one wrote.
      const bb: T = pc == 0 ? beta : <T>1;
      for (let j = 0; j < nc; j += NR) {
        const dst = PB + <usize>j * <usize>kc * sz;
        const cols = min(NR, nc - j);
        if (transB) gatherPanel<T>(b + (<usize>(jc + j) * <usize>ldb + <usize>pc) * sz, ldbB, cols, NR, kc, dst);
        else copyPanel<T>(b + (<usize>pc * <usize>ldb + <usize>(jc + j)) * sz, ldbB, cols, NR, kc, dst);
      }
      for (let ic = 0; ic < m; ic += MCb) {
        const mc = min(MCb, m - ic);
        for (let i = 0; i < mc; i += MR) {
          const dst = PA + <usize>i * <usize>kc * A_STEP / MR;
          const rows = min(MR, mc - i);
          // A row steps along k by one element; Aᵀ (stored k×m) by a row.
          if (transA) broadcastPanel<T>(a + (<usize>pc * <usize>lda + <usize>(ic + i)) * sz, ldaB, sz, rows, kc, dst);
          else broadcastPanel<T>(a + (<usize>(ic + i) * <usize>lda + <usize>pc) * sz, sz, ldaB, rows, kc, dst);
        }
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = PB + <usize>jr * <usize>kc * sz;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = PA + <usize>ir * <usize>kc * A_STEP / MR;
            const out = c + (<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) * sz;
            if (mr == MR && nr == NR) {
              micro<T>(kc, pa, pb, out, ldcB, alpha, bb);
            } else {
              // Edge tile: compute the full padded tile aside, then merge only the valid part.
              micro<T>(kc, pa, pb, TILE, NR_BYTES, <T>1, <T>0);
              merge<T>(mr, nr, out, ldcB, alpha, bb);
            }
          }
        }
      }
    }
  }
}

/** The block size for cutting `total` into equal blocks of at most `max`, rounded up to a multiple of `q`. */
function block(total: i32, max: i32, q: i32): i32 {
  const count = (total + max - 1) / max;
  const size = (total + count - 1) / count;
  return min(max, (size + q - 1) / q * q);
}

// @ts-ignore: decorator
@inline function micro<T>(kc: i32, pa: usize, pb: usize, out: usize, ldo: usize, alpha: T, beta: T): void {
  if (sizeof<T>() == 4) microF32(kc, pa, pb, out, ldo, <f32>alpha, <f32>beta);
  else microF64(kc, pa, pb, out, ldo, <f64>alpha, <f64>beta);
}

function merge<T>(mr: i32, nr: i32, out: usize, ldcB: usize, alpha: T, beta: T): void {
  const sz = <usize>sizeof<T>();
  for (let r = 0; r < mr; r++) {
    const t = TILE + <usize>r * NR_BYTES;
    const o = out + <usize>r * ldcB;
    for (let j = 0; j < nr; j++) {
      const v: T = alpha * load<T>(t + <usize>j * sz);
      const p = o + <usize>j * sz;
      store<T>(p, beta == 0 ? v : v + beta * load<T>(p));
    }
  }
}

function scale<T>(m: i32, n: i32, beta: T, c: usize, ldc: i32): void {
  const sz = <usize>sizeof<T>();
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * <usize>ldc * sz;
    for (let j = 0; j < n; j++) {
      const p = row + <usize>j * sz;
      store<T>(p, beta == 0 ? <T>0 : beta * load<T>(p));
    }
  }
}

// The module's other kernels (this file is its entry point).
export { relu32, reluGrad32 } from './relu';
export { logistic32, tanh32 } from './tanh';
export { gradFromOutput32, leakySelect32 } from './lanes';
export { columnSums32, sum32, sumSquares32 } from './reduce';
export { gelu32 } from './gelu';
export { scaledSoftmax32, softmax32 } from './softmax';
export { layernorm32 } from './layernorm';
export { unroll32, unroll64 } from './im2col';
export { maxPool2x2f32, maxPoolScatter32 } from './max-pool';
export { copyRuns } from './runs';
export { convWeightGrad32, padPlanes32 } from './conv-direct';
export { add32, mul32, scaleRows32, sumRows32 } from './arith';
