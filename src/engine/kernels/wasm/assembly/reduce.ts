// Sums of float32 accumulated in float64: of squares (src/engine/tensor.ts's sumSquares) and plain
// (a convolution's bias gradient, src/engine/ops/shared/conv.ts), eight elements a pass on a chunk
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
