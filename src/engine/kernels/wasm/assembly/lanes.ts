// Elementwise loops on float32 whose JS versions evaluate in float64 (JS numbers) and round once, when
// the result is stored in a Float32Array: here each four lanes are widened to two float64x2, the same
// operations run in the same order, and the result is rounded once. So these give the JS loops' bits
// (src/engine/ops/elementwise.ts), NaN payloads aside. In place on chunks the JS side copied in
// (src/engine/kernels/wasm.ts); n float32 at each byte offset.

const TANH: i32 = 0;
const SIGMOID: i32 = 1;

/** The two float64x2 halves of four float32 lanes. */
@inline export function low(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline export function high(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
}
/** Four float32 lanes from two float64x2 halves, each rounded once. */
@inline export function narrow(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** g·df(y) with df of the output alone: tanh 1 − y·y, sigmoid y·(1 − y). */
@inline function fromY(kind: i32, y: v128, g: v128): v128 {
  const one = f64x2.splat(1);
  return kind === TANH ? f64x2.mul(g, f64x2.sub(one, f64x2.mul(y, y))) : f64x2.mul(g, f64x2.mul(y, f64x2.sub(one, y)));
}

@inline function fromYScalar(kind: i32, y: f64, g: f64): f64 {
  return kind === TANH ? g * (1 - y * y) : g * (y * (1 - y));
}

/** g ← g·df(y) given the op's output y: tanh's gradient (kind 0) or sigmoid's (kind 1). */
export function gradFromOutput32(kind: i32, y: usize, g: usize, n: i32): void {
  const bytes = <usize>n << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) {
    const yv = v128.load(y + i);
    const gv = v128.load(g + i);
    v128.store(g + i, narrow(fromY(kind, low(yv), low(gv)), fromY(kind, high(yv), high(gv))));
  }
  for (; i < bytes; i += 4) store<f32>(g + i, <f32>fromYScalar(kind, <f64>load<f32>(y + i), <f64>load<f32>(g + i)));
}

/**
 * v ← x > 0 ? v : slope·v, rounded once from float64, in place on v: leaky_relu's forward (v = x) and
 * its gradient (v = g; x > 0 passes g unchanged, as g·1 does). NaN x takes the slope side, as in JS.
 */
export function leakySelect32(x: usize, v: usize, n: i32, slope: f64): void {
  const a = f64x2.splat(slope);
  const zero = f32x4.splat(0);
  const bytes = <usize>n << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) {
    const vv = v128.load(v + i);
    const scaled = narrow(f64x2.mul(a, low(vv)), f64x2.mul(a, high(vv)));
    v128.store(v + i, v128.bitselect(vv, scaled, f32x4.gt(v128.load(x + i), zero)));
  }
  for (; i < bytes; i += 4) {
    if (!(load<f32>(x + i) > 0)) store<f32>(v + i, <f32>(slope * <f64>load<f32>(v + i)));
  }
}
