// relu's two loops on float32, four lanes at a time, in place on a chunk the JS side copied in
// (src/engine/kernels/wasm.ts). Bit for bit the same as the JS loops in src/engine/ops/relu.ts:
// the sign bit spread to a mask zeroes negative values, −0 and −∞; a NaN of either sign stays NaN.

/** x ← relu(x) for n float32 at byte offset x. */
export function relu32(x: usize, n: i32): void {
  const end = x + (<usize>n << 2);
  let p = x;
  for (; p + 16 <= end; p += 16) {
    const v = v128.load(p);
    const keep = v128.or(v128.not(i32x4.shr_s(v, 31)), f32x4.ne(v, v));
    v128.store(p, v128.and(v, keep));
  }
  for (; p < end; p += 4) {
    const b = load<i32>(p);
    const f = load<f32>(p);
    store<i32>(p, b & (~(b >> 31) | -(<i32>(f != f))));
  }
}

/** g ← g where y > 0 or y is NaN, else +0: relu's gradient, given its output y (n float32 each). */
export function reluGrad32(y: usize, g: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const bytes = <usize>n << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) {
    v128.store(g + i, v128.andnot(v128.load(g + i), f32x4.le(v128.load(y + i), zero)));
  }
  for (; i < bytes; i += 4) {
    if (load<f32>(y + i) <= 0) store<i32>(g + i, 0);
  }
}
