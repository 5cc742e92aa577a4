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
