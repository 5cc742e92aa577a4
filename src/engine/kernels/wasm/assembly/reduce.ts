// Sums of float32 accumulated in float64: of squares (src/engine/tensor.ts's sumSquares), plain
// (a convolution's bias gradient, src/engine/ops/shared/conv.ts) and by column (a linear layer's, at
// the end of this file), eight elements a pass on a chunk
// the JS side laid out in linear memory (src/engine/kernels/wasm.ts, kernels/im2col.ts): four
// float64x2 sums, so no add waits on the one before it. Non-finite elements make the sum non-finite,
// as in the JS loops.

/** Σ x[i] (or Σ x[i]² with `square`) over n float32 at byte offset x, in float64. */
@inline function sum32Of(x: usize, n: i32, square: bool): f64 {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let a3 = f64x2.splat(0);
  const end = x + (<usize>n << 2);
  let p = x;
  for (; p + 32 <= end; p += 32) {
    const v = v128.load(p);
    const w = v128.load(p + 16);
    const v0 = f64x2.promote_low_f32x4(v);
    const v1 = f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 0, 1));
    const w0 = f64x2.promote_low_f32x4(w);
    const w1 = f64x2.promote_low_f32x4(v128.shuffle<i32>(w, w, 2, 3, 0, 1));
    a0 = f64x2.add(a0, square ? f64x2.mul(v0, v0) : v0);
    a1 = f64x2.add(a1, square ? f64x2.mul(v1, v1) : v1);
    a2 = f64x2.add(a2, square ? f64x2.mul(w0, w0) : w0);
    a3 = f64x2.add(a3, square ? f64x2.mul(w1, w1) : w1);
  }
  let s: f64 = 0;
  for (; p < end; p += 4) {
    const f = <f64>load<f32>(p);
    s += square ? f * f : f;
  }
  const t = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
  return f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1) + s;
}

/** Σ x[i]² over n float32 at byte offset x, in float64. */
export function sumSquares32(x: usize, n: i32): f64 {
  return sum32Of(x, n, true);
}

/** Σ x[i] over n float32 at byte offset x, in float64. */
export function sum32(x: usize, n: i32): f64 {
  return sum32Of(x, n, false);
}

/**
 * s[j] += Σ_r x[r, j] over `rows` rows of `cols` float32 at byte offset x, into `cols` float64 at byte
 * offset s: a linear layer's bias gradient. Bit for bit as linear.ts's JS loop: eight rows a pass, each
 * column's eight values summed as ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) before joining s,
 * then the rows left one by one.
 */
export function columnSums32(x: usize, rows: i32, cols: i32, s: usize): void {
  const stride = <usize>cols << 2;
  const whole = <usize>(cols & ~3);
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const row = x + <usize>r * stride;
    for (let j: usize = 0; j < whole; j += 4) {
      const p = row + (j << 2);
      const v0 = v128.load(p), v1 = v128.load(p + stride), v2 = v128.load(p + 2 * stride), v3 = v128.load(p + 3 * stride);
      const v4 = v128.load(p + 4 * stride), v5 = v128.load(p + 5 * stride), v6 = v128.load(p + 6 * stride), v7 = v128.load(p + 7 * stride);
      const at = s + (j << 3);
      v128.store(at, f64x2.add(v128.load(at), eightLow(v0, v1, v2, v3, v4, v5, v6, v7)));
      v128.store(at + 16, f64x2.add(v128.load(at + 16), eightLow(high(v0), high(v1), high(v2), high(v3), high(v4), high(v5), high(v6), high(v7))));
    }
    for (let j = whole; j < <usize>cols; j++) {
      const p = row + (j << 2);
      const e = (<f64>load<f32>(p) + <f64>load<f32>(p + stride) + (<f64>load<f32>(p + 2 * stride) + <f64>load<f32>(p + 3 * stride)))
        + (<f64>load<f32>(p + 4 * stride) + <f64>load<f32>(p + 5 * stride) + (<f64>load<f32>(p + 6 * stride) + <f64>load<f32>(p + 7 * stride)));
      store<f64>(s + (j << 3), load<f64>(s + (j << 3)) + e);
    }
  }
  for (; r < rows; r++) {
    const row = x + <usize>r * stride;
    for (let j: usize = 0; j < <usize>cols; j++) store<f64>(s + (j << 3), load<f64>(s + (j << 3)) + <f64>load<f32>(row + (j << 2)));
  }
}

/** lanes 2 and 3 of a float32 vector moved to lanes 0 and 1 */
@inline function high(v: v128): v128 {
  return v128.shuffle<i32>(v, v, 2, 3, 0, 1);
}

/** the low two float32 lanes of eight vectors, promoted and summed as the JS loop's eight rows */
@inline function eightLow(v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128): v128 {
  const a = f64x2.add(f64x2.add(f64x2.promote_low_f32x4(v0), f64x2.promote_low_f32x4(v1)), f64x2.add(f64x2.promote_low_f32x4(v2), f64x2.promote_low_f32x4(v3)));
  const b = f64x2.add(f64x2.add(f64x2.promote_low_f32x4(v4), f64x2.promote_low_f32x4(v5)), f64x2.add(f64x2.promote_low_f32x4(v6), f64x2.promote_low_f32x4(v7)));
  return f64x2.add(a, b);
}
