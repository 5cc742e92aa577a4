// Float32 sums and products in float32 lanes, on chunks the JS side copied into linear memory
// (src/engine/kernels/wasm.ts): the adjoints the engine accumulates (src/engine/tensor.ts's added, addInto),
// the add op, a gradient summed over the leading dims an operand was repeated along (sumToShape), and a
// gradient times a derivative the forward pass kept (gelu). A float32 lane's sum or product is the JS
// loops' bits: that of two float32 computed in float64 and rounded once is the correctly rounded one.

/** y ← x + y for n float32 at byte offsets x and y. */
export function add32(x: usize, y: usize, n: i32): void {
  const bytes = <usize>n << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(y + i, f32x4.add(v128.load(x + i), v128.load(y + i)));
  for (; i < bytes; i += 4) store<f32>(y + i, load<f32>(x + i) + load<f32>(y + i));
}

/** y ← x·y for n float32 at byte offsets x and y. */
export function mul32(x: usize, y: usize, n: i32): void {
  const bytes = <usize>n << 2;
  let i: usize = 0;
  for (; i + 16 <= bytes; i += 16) v128.store(y + i, f32x4.mul(v128.load(x + i), v128.load(y + i)));
  for (; i < bytes; i += 4) store<f32>(y + i, load<f32>(x + i) * load<f32>(y + i));
}

/**
 * acc[j] ← acc[j] + x[0, j] + x[1, j] + … in that order (rows of `cols` float32 at byte offset x, `cols`
 * float32 at acc): the order of sumToShape's JS loop, each column's running sum in a float32 lane.
 */
export function sumRows32(x: usize, rows: i32, cols: i32, acc: usize): void {
  const stride = <usize>cols << 2;
  let j: usize = 0;
  for (; j + 16 <= stride; j += 16) {
    let s = v128.load(acc + j);
    for (let r = 0, p = x + j; r < rows; r++, p += stride) s = f32x4.add(s, v128.load(p));
    v128.store(acc + j, s);
  }
  for (; j < stride; j += 4) {
    let s = load<f32>(acc + j);
    for (let r = 0, p = x + j; r < rows; r++, p += stride) s += load<f32>(p);
    store<f32>(acc + j, s);
  }
}

/**
 * p[i, j] ← p[i, j]·factors[i] in float64, rounded once, over `rows` rows of `cols` float32 at byte offset
 * p, `rows` float64 at factors: softmax32's normalization of rows it left at e = exp(x − max), later.
 */
export function scaleRows32(p: usize, rows: i32, cols: i32, factors: usize): void {
  for (let i = 0; i < rows; i++) scaleRow(p + ((<usize>i * <usize>cols) << 2), cols, load<f64>(factors + (<usize>i << 3)));
}

/** row[j] ← row[j]·f in float64, rounded once, for the first n float32 at byte offset row. */
@inline export function scaleRow(row: usize, n: i32, f: f64): void {
  const whole = <usize>(n & ~3) << 2;
  const end = <usize>n << 2;
  const fv = f64x2.splat(f);
  for (let j: usize = 0; j < whole; j += 16) {
    const e = v128.load(row + j);
    const lo = f64x2.mul(f64x2.promote_low_f32x4(e), fv);
    const hi = f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3)), fv);
    v128.store(row + j, i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
  }
  for (let j = whole; j < end; j += 4) store<f32>(row + j, <f32>(<f64>load<f32>(row + j) * f));
}
