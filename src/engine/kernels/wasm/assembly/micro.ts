// Register-tile micro-kernels: C_tile = alpha · Apanel · Bpanel + beta · C_tile over kc steps.
// Packed B is k-major, 32 bytes (two v128) a step. Packed A is k-major MR = 4 rows a step, each element
// already broadcast to a whole v128 (64 bytes a step), so every operand is a plain v128 load.
//
// Why this shape (measured under V8 11 / Node 20 on x86-64, no FMA without relaxed SIMD):
// - 8 v128 accumulators + 2 B + 4 A + 1 product temporary use 15 of the 16 xmm registers. TurboFan
//   schedules every load of a loop body first, so a larger tile, or a k loop unrolled twice, spills.
// - With 8 mul + 8 add a step the loop is bound by instruction issue, not by the FP ports, so each
//   instruction saved in the loop counts: v128.load32_splat with a non-zero offset costs V8 an extra
//   lea (a plain v128.load folds the offset), and an end pointer replaces the step counter.

/** Bytes of packed A per k step: MR = 4 broadcast elements. */
export const A_STEP = 64;

/** 4×8 float32 tile. `out` has a row stride of `ldo` bytes. */
export function microF32(kc: i32, pa: usize, pb: usize, out: usize, ldo: usize, alpha: f32, beta: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + <usize>kc * 32;
  while (pb < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load(pa, 16);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load(pa, 32);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load(pa, 48);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += A_STEP;
    pb += 32;
  }
  const va = f32x4.splat(alpha);
  if (beta == 0) {
    // NOTE: beta = 0 means C is not read at all, so NaN/Inf garbage in C cannot leak into the result.
    v128.store(out, f32x4.mul(c00, va)); v128.store(out, f32x4.mul(c01, va), 16); out += ldo;
    v128.store(out, f32x4.mul(c10, va)); v128.store(out, f32x4.mul(c11, va), 16); out += ldo;
    v128.store(out, f32x4.mul(c20, va)); v128.store(out, f32x4.mul(c21, va), 16); out += ldo;
    v128.store(out, f32x4.mul(c30, va)); v128.store(out, f32x4.mul(c31, va), 16);
  } else {
    const vb = f32x4.splat(beta);
    storeF32(out, c00, c01, va, vb); out += ldo;
    storeF32(out, c10, c11, va, vb); out += ldo;
    storeF32(out, c20, c21, va, vb); out += ldo;
    storeF32(out, c30, c31, va, vb);
  }
}

// @ts-ignore: decorator
@inline function storeF32(out: usize, x0: v128, x1: v128, va: v128, vb: v128): void {
  v128.store(out, f32x4.add(f32x4.mul(x0, va), f32x4.mul(v128.load(out), vb)));
  v128.store(out, f32x4.add(f32x4.mul(x1, va), f32x4.mul(v128.load(out, 16), vb)), 16);
}

/** 4×4 float64 tile. `out` has a row stride of `ldo` bytes. */
export function microF64(kc: i32, pa: usize, pb: usize, out: usize, ldo: usize, alpha: f64, beta: f64): void {
  let c00 = f64x2.splat(0), c01 = f64x2.splat(0);
  let c10 = f64x2.splat(0), c11 = f64x2.splat(0);
  let c20 = f64x2.splat(0), c21 = f64x2.splat(0);
  let c30 = f64x2.splat(0), c31 = f64x2.splat(0);
  const end = pb + <usize>kc * 32;
  while (pb < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load(pa);
    c00 = f64x2.add(c00, f64x2.mul(a, b0));
    c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load(pa, 16);
    c10 = f64x2.add(c10, f64x2.mul(a, b0));
    c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load(pa, 32);
    c20 = f64x2.add(c20, f64x2.mul(a, b0));
    c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load(pa, 48);
    c30 = f64x2.add(c30, f64x2.mul(a, b0));
    c31 = f64x2.add(c31, f64x2.mul(a, b1));
    pa += A_STEP;
    pb += 32;
  }
  const va = f64x2.splat(alpha);
  if (beta == 0) {
    v128.store(out, f64x2.mul(c00, va)); v128.store(out, f64x2.mul(c01, va), 16); out += ldo;
    v128.store(out, f64x2.mul(c10, va)); v128.store(out, f64x2.mul(c11, va), 16); out += ldo;
    v128.store(out, f64x2.mul(c20, va)); v128.store(out, f64x2.mul(c21, va), 16); out += ldo;
    v128.store(out, f64x2.mul(c30, va)); v128.store(out, f64x2.mul(c31, va), 16);
  } else {
    const vb = f64x2.splat(beta);
    storeF64(out, c00, c01, va, vb); out += ldo;
    storeF64(out, c10, c11, va, vb); out += ldo;
    storeF64(out, c20, c21, va, vb); out += ldo;
    storeF64(out, c30, c31, va, vb);
  }
}

// @ts-ignore: decorator
@inline function storeF64(out: usize, x0: v128, x1: v128, va: v128, vb: v128): void {
  v128.store(out, f64x2.add(f64x2.mul(x0, va), f64x2.mul(v128.load(out), vb)));
  v128.store(out, f64x2.add(f64x2.mul(x1, va), f64x2.mul(v128.load(out, 16), vb)), 16);
}
