// The convolutions' im2col and col2im (src/engine/ops/shared/conv.ts, the same runs as its JS
// fallback, the samples innermost): receptive fields unrolled into the rows of a matrix, and that matrix's gradient folded
// back, each run of a row a SIMD copy or add. On operands the JS side laid out in linear
// memory (src/engine/kernels/im2col.ts); offsets in bytes, sizes in elements.

/** The output indices [lo, hi) whose input index o·stride + off lies inside [0, n) (lo in the low half). */
@inline function inside(off: i32, stride: i32, n: i32, out: i32): i64 {
  const lo = min(out, max(0, ceilDiv(-off, stride)));
  const hi = min(out, max(lo, ceilDiv(n - off, stride)));
  return (<i64>hi << 32) | <i64>lo;
}

@inline function ceilDiv(a: i32, b: i32): i32 {
  // i32 division truncates towards zero: the ceiling of a negative quotient
  return a > 0 ? (a + b - 1) / b : a / b;
}

/**
 * dst[0..n) = src[0..n): a loop, as the runs are short (memory.copy calls out of the module); a run of
 * at least 16 bytes ends with a copy of its last 16, overlapping what is already copied.
 */
@inline function copyRun<T>(dst: usize, src: usize, n: i32): void {
  const bytes = <usize>n * sizeof<T>();
  if (bytes < 16) {
    for (let i: usize = 0; i < bytes; i += sizeof<T>()) store<T>(dst + i, load<T>(src + i));
    return;
  }
  for (let i: usize = 0; i + 16 < bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  v128.store(dst + bytes - 16, v128.load(src + bytes - 16));
}

/**
 * dst[0..n) += src[0..n), each sum rounded once, as the JS loop's. A run of at least 16 bytes ends
 * with the sums of its last 16, overlapping sums already stored: computed from dst before any store
 * (the same operands, so the same values), which also spares a load of bytes just stored.
 */
@inline function addRun<T>(dst: usize, src: usize, n: i32): void {
  const bytes = <usize>n * sizeof<T>();
  if (bytes < 16) {
    for (let i: usize = 0; i < bytes; i += sizeof<T>()) store<T>(dst + i, load<T>(dst + i) + load<T>(src + i));
    return;
  }
  const at = bytes - 16;
  const a = v128.load(dst + at);
  const b = v128.load(src + at);
  const last = sizeof<T>() == 4 ? f32x4.add(a, b) : f64x2.add(a, b);
  for (let i: usize = 0; i + 16 < bytes; i += 16) {
    const c = v128.load(dst + i);
    const d = v128.load(src + i);
    v128.store(dst + i, sizeof<T>() == 4 ? f32x4.add(c, d) : f64x2.add(c, d));
  }
  v128.store(dst + at, last);
}

/** Zeroes a tap's row of the band (output rows [y0, y1), ow each) outside rows [ya, yb) and columns [lo, hi). */
@inline function zeroOutside<T>(row: usize, ow: i32, y0: i32, y1: i32, ya: i32, yb: i32, lo: i32, hi: i32): void {
  const sz = <usize>sizeof<T>();
  const rowB = <usize>ow * sz;
  if (ya >= yb || lo >= hi) {
    memory.fill(row, 0, <usize>(y1 - y0) * rowB);
    return;
  }
  memory.fill(row, 0, <usize>(ya - y0) * rowB);
  for (let y = ya; y < yb; y++) {
    const at = row + <usize>(y - y0) * rowB;
    for (let t = 0; t < lo; t++) store<T>(at + <usize>t * sz, <T>0);
    for (let t = hi; t < ow; t++) store<T>(at + <usize>t * sz, <T>0);
  }
  memory.fill(row + <usize>(yb - y0) * rowB, 0, <usize>(y1 - yb) * rowB);
}

/**
 * Unrolls output rows [y0, y1) of `samples` samples (each `xs` elements apart from byte x, `cg`
 * channels of h × w) into cols: row (ch·kh + i)·kw + j (`ld` elements apart) holds the tap (i, j) of
 * channel ch, sample s's columns from s·width on, output row y at (y − y0)·ow. With `clear` (some
 * tap falls in the padding) the rows are zeroed first, for the taps that read no element. With
 * `fold`, the reverse: each element of x gets the sum of the columns that read it.
 */
function unroll<T>(
  clear: bool, fold: bool, x: usize, xs: i32, samples: i32, cols: usize, ld: i32, width: i32,
  cg: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32,
  ow: i32, y0: i32, y1: i32,
): void {
  const sz = <usize>sizeof<T>();
  const xStep = <usize>xs * sz;
  const colStep = <usize>width * sz;
  const srcStep = <usize>(sh * w) * sz;
  const dstStep = <usize>ow * sz;
  // tap by tap, the samples innermost: a tap's row of the matrix is written from start to end
  let row = cols;
  for (let ch = 0; ch < cg; ch++) {
    const plane = x + <usize>(ch * h * w) * sz;
    for (let i = 0; i < kh; i++) {
      const offY = i * dh - ph;
      const ys = inside(offY, sh, h, y1);
      const ya = max(y0, <i32>ys);
      const yb = <i32>(ys >> 32);
      for (let j = 0; j < kw; j++, row += <usize>ld * sz) {
        const offX = j * dw - pw;
        const cs = inside(offX, sw, w, ow);
        const lo = <i32>cs;
        const hi = <i32>(cs >> 32);
        const empty = ya >= yb || lo >= hi;
        const n = hi - lo;
        const src0 = plane + <usize>((ya * sh + offY) * w + offX + lo * sw) * sz;
        const dst0 = row + <usize>((ya - y0) * ow + lo) * sz;
        for (let s = 0; s < samples; s++) {
          if (clear) zeroOutside<T>(row + <usize>s * colStep, ow, y0, y1, ya, yb, lo, hi);
          if (empty) continue;
          let src = src0 + <usize>s * xStep;
          let dst = dst0 + <usize>s * colStep;
          if (sw == 1) {
            // the run's loop apart for each direction, its length and steps fixed for the tap's rows
            if (fold) for (let y = ya; y < yb; y++, src += srcStep, dst += dstStep) addRun<T>(src, dst, n);
            else for (let y = ya; y < yb; y++, src += srcStep, dst += dstStep) copyRun<T>(dst, src, n);
            continue;
          }
          const step = <usize>sw * sz;
          for (let y = ya; y < yb; y++, src += srcStep, dst += dstStep) {
            let p = src;
            for (let t: usize = 0, end = <usize>n * sz; t < end; t += sz, p += step) {
              if (fold) store<T>(p, load<T>(p) + load<T>(dst + t));
              else store<T>(dst + t, load<T>(p));
            }
          }
        }
      }
    }
  }
}

export function unroll32(
  clear: bool, fold: bool, x: usize, xs: i32, samples: i32, cols: usize, ld: i32, width: i32,
  cg: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32,
  ow: i32, y0: i32, y1: i32,
): void {
  unroll<f32>(clear, fold, x, xs, samples, cols, ld, width, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, y0, y1);
}

export function unroll64(
  clear: bool, fold: bool, x: usize, xs: i32, samples: i32, cols: usize, ld: i32, width: i32,
  cg: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32,
  ow: i32, y0: i32, y1: i32,
): void {
  unroll<f64>(clear, fold, x, xs, samples, cols, ld, width, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, y0, y1);
}
