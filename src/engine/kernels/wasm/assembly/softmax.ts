// Softmax over the rows of a float32 block in place (attention's weights without a mask, the rows of a
// cross-entropy), on blocks the JS side copied in (src/engine/kernels/wasm.ts). Per row: the largest of
// its first `open` entries, e = exp(x − max) four lanes at a time, their sum in float64, then each
// e·(1/sum) in float64, rounded once; the entries past `open` (causal attention) are 0. As the JS loops:
// a row whose open entries are all −∞ is all 0, a NaN makes its row NaN.
// exp is Cephes' expf (tanh.ts), its argument x − max ≤ 0 clamped at −104 and 2^k applied in two halves,
// so e^x down to the subnormals rounds once (e^−104 rounds to 0).

import { scaleRow } from './arith';
import { E0, E1, E2, E3, E4, E5, expPoly, LN2_HI, LN2_LO, LOG2E } from './tanh';

const K = memory.data<f32>([E0, E1, E2, E3, E4, E5, LOG2E, LN2_HI, LN2_LO, 1, 12582912, reinterpret<f32>(0x4b400000), reinterpret<f32>(127), -104]);

/** e^x for x ≤ 0 (NaN stays NaN), four lanes. */
@inline function exp4(x: v128, c: usize): v128 {
  const y = f32x4.pmax(x, v128.load32_splat(c + 52));
  const magic = v128.load32_splat(c + 40);
  const kb = f32x4.add(f32x4.mul(y, v128.load32_splat(c + 24)), magic);
  const k = f32x4.sub(kb, magic);
  const r = f32x4.sub(f32x4.sub(y, f32x4.mul(k, v128.load32_splat(c + 28))), f32x4.mul(k, v128.load32_splat(c + 32)));
  const ki = i32x4.sub(kb, v128.load32_splat(c + 44));
  const k1 = i32x4.shr_s(ki, 1);
  const k2 = i32x4.sub(ki, k1);
  const one = v128.load32_splat(c + 36);
  const e = expPoly(r, v128.load32_splat(c), v128.load32_splat(c + 4), v128.load32_splat(c + 8), v128.load32_splat(c + 12), v128.load32_splat(c + 16), v128.load32_splat(c + 20), one);
  const bias = v128.load32_splat(c + 48);
  return f32x4.mul(f32x4.mul(e, i32x4.shl(i32x4.add(k1, bias), 23)), i32x4.shl(i32x4.add(k2, bias), 23));
}

/**
 * Softmax of each of `rows` rows of `cols` float32 at byte offset p, in place; row i's first
 * `min(cols, first + i + 1)` entries when `causal` (the rest become 0), else all of them.
 * With `scales` (a byte offset, not 0) row i is multiplied by the float64 scales[i] (in the one
 * float64 product by factor/Σe), and a row of −∞ gives NaN rather than 0.
 * With `stats` (a byte offset, not 0) the rows are left at e = exp(x − max), not normalized, and each
 * row's max and Σe go to stats as two float64 (log-sum-exp = max + log Σe); a row of −∞ then gives NaN,
 * as exp(−∞ − (−∞)) does in the JS loops.
 */
export function softmax32(p: usize, rows: i32, cols: i32, first: i32, causal: i32, stats: usize): void {
  softmaxRows(p, rows, cols, first, causal, stats, 0);
}

/** p ← scales[i]·softmax(row i) for each of `rows` rows of `cols` float32 at byte offset p (softmax32 with scales). */
export function scaledSoftmax32(p: usize, rows: i32, cols: i32, scales: usize): void {
  softmaxRows(p, rows, cols, 0, 0, 0, scales);
}

@inline function softmaxRows(p: usize, rows: i32, cols: i32, first: i32, causal: i32, stats: usize, scales: usize): void {
  const c = K;
  for (let i = 0; i < rows; i++) {
    const row = p + ((<usize>i * <usize>cols) << 2);
    const open = causal ? min(cols, first + i + 1) : cols;
    const whole = <usize>(open & ~3) << 2;
    const end = <usize>open << 2;
    // the largest entry; NaN wins (f32x4.max and the scalar max propagate it)
    let mv = f32x4.splat(-Infinity);
    for (let j: usize = 0; j < whole; j += 16) mv = f32x4.max(mv, v128.load(row + j));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let j = whole; j < end; j += 4) m = max(m, load<f32>(row + j));
    if (m === -Infinity && !stats && !scales) {
      memory.fill(row, 0, <usize>cols << 2);
      continue;
    }
    const ms = f32x4.splat(m);
    let s2 = f64x2.splat(0);
    for (let j: usize = 0; j < whole; j += 16) {
      const e = exp4(f32x4.sub(v128.load(row + j), ms), c);
      v128.store(row + j, e);
      s2 = f64x2.add(s2, f64x2.add(f64x2.promote_low_f32x4(e), f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3))));
    }
    let sum = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
    for (let j = whole; j < end; j += 4) {
      const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(row + j) - m), c), 0);
      store<f32>(row + j, e);
      sum += <f64>e;
    }
    if (stats) {
      store<f64>(stats + (<usize>i << 4), <f64>m);
      store<f64>(stats + (<usize>i << 4) + 8, sum);
      continue;
    }
    scaleRow(row, open, (scales ? load<f64>(scales + (<usize>i << 3)) : 1) / sum);
    if (open < cols) memory.fill(row + end, 0, <usize>(cols - open) << 2);
  }
}
