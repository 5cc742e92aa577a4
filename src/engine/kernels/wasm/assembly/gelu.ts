// The exact GELU x·Φ(x) and its gradient on float32, in place on chunks the JS side copied in
// (src/engine/kernels/wasm.ts): the float32 formula of src/engine/ops/gelu.ts (Φ(x) = erfc(−x/√2)/2,
// erfc from erfcF32 in src/engine/math/erf.ts) evaluated in float64 lanes, two at a time, in the JS
// order of operations, and rounded once. Only Math.exp is replaced, by exp64 below (relative error
// below 1e-14, where the result is rounded to float32 at 6e-8), so the elements match the JS loop's
// to about one float32 rounding.

const SQRT1_2: f64 = 0.7071067811865476;
const INV_SQRT_2PI: f64 = 0.3989422804014327;
// erfcF32's Chebyshev fit (Numerical Recipes' erfcc), highest degree first
const NR9: f64 = 0.17087277, NR8: f64 = -0.82215223, NR7: f64 = 1.48851587, NR6: f64 = -1.13520398, NR5: f64 = 0.27886807;
const NR4: f64 = -0.18628806, NR3: f64 = 0.09678418, NR2: f64 = 0.37409196, NR1: f64 = 1.00002368, NR0: f64 = -1.26551223;
// exp: 2^k·e^r, k = round(a/ln 2) by adding 1.5·2^52, r = a − k·ln 2 with ln 2 in two parts (fdlibm's:
// k·LN2_HI is exact), e^r by its Taylor series to r¹¹ (|r| ≤ ln 2 / 2: truncation error < 1e-14).
// The polynomials run by Estrin's scheme: a long chain of dependent multiply-adds would leave the
// lanes waiting on each other
const LOG2E: f64 = 1.4426950408889634;
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const MAGIC: f64 = 6755399441055744;
// below e^−700 every result here rounds to a float32 zero; the clamp keeps 2^k a normal number
const FLOOR: f64 = -700;
// past |x| = 38 (erfc's argument past 26.9) and for NaN the JS rule computes the element
const RANGE: f32 = 38;

const K = memory.data<f64>([
  SQRT1_2, INV_SQRT_2PI, NR9, NR8, NR7, NR6, NR5, NR4, NR3, NR2, NR1, NR0, LOG2E, LN2_HI, LN2_LO, MAGIC, FLOOR, 1, 0.5, 2,
  1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
  -0.5, 0,
]);

/** e^a for a ≥ FLOOR (clamped there) in float64 lanes; NaN gives NaN. */
@inline function exp64(a: v128, k: usize): v128 {
  const x = f64x2.pmax(a, v128.load64_splat(k + 16 * 8));
  const magic = v128.load64_splat(k + 15 * 8);
  const kb = f64x2.add(f64x2.mul(x, v128.load64_splat(k + 12 * 8)), magic);
  const n = f64x2.sub(kb, magic);
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(n, v128.load64_splat(k + 13 * 8))), f64x2.mul(n, v128.load64_splat(k + 14 * 8)));
  const one = v128.load64_splat(k + 17 * 8);
  // Estrin's scheme: the powers of r in parallel rather than one long chain of multiply-adds
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  const e01 = f64x2.add(one, r);
  const e23 = f64x2.add(v128.load64_splat(k + 20 * 8), f64x2.mul(r, v128.load64_splat(k + 21 * 8)));
  const e45 = f64x2.add(v128.load64_splat(k + 22 * 8), f64x2.mul(r, v128.load64_splat(k + 23 * 8)));
  const e67 = f64x2.add(v128.load64_splat(k + 24 * 8), f64x2.mul(r, v128.load64_splat(k + 25 * 8)));
  const e89 = f64x2.add(v128.load64_splat(k + 26 * 8), f64x2.mul(r, v128.load64_splat(k + 27 * 8)));
  const eAB = f64x2.add(v128.load64_splat(k + 28 * 8), f64x2.mul(r, v128.load64_splat(k + 29 * 8)));
  const e03 = f64x2.add(e01, f64x2.mul(e23, r2));
  const e47 = f64x2.add(e45, f64x2.mul(e67, r2));
  const e8B = f64x2.add(e89, f64x2.mul(eAB, r2));
  const e = f64x2.add(f64x2.add(e03, f64x2.mul(e47, r4)), f64x2.mul(e8B, r8));
  // 2^k from its exponent bits: kb's low bits hold k (kb = 1.5·2^52 + k exactly)
  const scale = i64x2.shl(i64x2.add(i64x2.sub(kb, magic), i64x2.splat(1023)), 52);
  return f64x2.mul(e, scale);
}

/** erfc(−x/√2) in float64 lanes, as erfcF32(−x·√½). */
@inline function erfcNeg(x: v128, k: usize): v128 {
  const one = v128.load64_splat(k + 17 * 8);
  const z = f64x2.mul(f64x2.abs(x), v128.load64_splat(k));
  const t = f64x2.div(one, f64x2.add(one, f64x2.mul(v128.load64_splat(k + 18 * 8), z)));
  // p = Σ NR_j·t^j by Estrin's scheme (NR9 at K[2] … NR0 at K[11])
  const t2 = f64x2.mul(t, t);
  const t4 = f64x2.mul(t2, t2);
  const t8 = f64x2.mul(t4, t4);
  const p01 = f64x2.add(v128.load64_splat(k + 11 * 8), f64x2.mul(t, v128.load64_splat(k + 10 * 8)));
  const p23 = f64x2.add(v128.load64_splat(k + 9 * 8), f64x2.mul(t, v128.load64_splat(k + 8 * 8)));
  const p45 = f64x2.add(v128.load64_splat(k + 7 * 8), f64x2.mul(t, v128.load64_splat(k + 6 * 8)));
  const p67 = f64x2.add(v128.load64_splat(k + 5 * 8), f64x2.mul(t, v128.load64_splat(k + 4 * 8)));
  const p89 = f64x2.add(v128.load64_splat(k + 3 * 8), f64x2.mul(t, v128.load64_splat(k + 2 * 8)));
  const p03 = f64x2.add(p01, f64x2.mul(p23, t2));
  const p47 = f64x2.add(p45, f64x2.mul(p67, t2));
  const p = f64x2.add(f64x2.add(p03, f64x2.mul(p47, t4)), f64x2.mul(p89, t8));
  const r = f64x2.mul(t, exp64(f64x2.sub(p, f64x2.mul(z, z)), k));
  // the argument −x/√2 is ≥ 0 where x ≤ 0 (either zero included)
  return v128.bitselect(r, f64x2.sub(v128.load64_splat(k + 19 * 8), r), f64x2.le(x, v128.load64_splat(k + 31 * 8)));
}

/** mode 0: gelu(x); mode 1: g·gelu′(x), g·(Φ(x) + x·φ(x)). */
@inline function lane(mode: i32, x: v128, g: v128, k: usize): v128 {
  const half = v128.load64_splat(k + 18 * 8);
  const e = erfcNeg(x, k);
  if (mode === 0) return f64x2.mul(f64x2.mul(half, x), e);
  const pdf = f64x2.mul(f64x2.mul(x, v128.load64_splat(k + 8)), exp64(f64x2.mul(f64x2.mul(v128.load64_splat(k + 30 * 8), x), x), k));
  return f64x2.mul(g, f64x2.add(f64x2.mul(half, e), pdf));
}

/**
 * mode 0: x ← gelu(x); mode 1: g ← g·gelu′(x), over n float32 at byte offsets x and g; whole vectors, as
 * tanh32. Returns how many of the vectors' elements are NaN or have |x| > 38: the caller computes those.
 */
export function gelu32(mode: i32, x: usize, g: usize, n: i32): i32 {
  const k = K;
  const range = f32x4.splat(RANGE);
  const bytes = <usize>n << 2;
  let outside = 0;
  for (let i: usize = 0; i < bytes; i += 16) {
    const v = v128.load(x + i);
    outside += <i32>popcnt(i32x4.bitmask(v128.not(f32x4.le(f32x4.abs(v), range))));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
    let glo = lo;
    let ghi = hi;
    if (mode !== 0) {
      const w = v128.load(g + i);
      glo = f64x2.promote_low_f32x4(w);
      ghi = f64x2.promote_low_f32x4(i32x4.shuffle(w, w, 2, 3, 2, 3));
    }
    const out = i32x4.shuffle(f32x4.demote_f64x2_zero(lane(mode, lo, glo, k)), f32x4.demote_f64x2_zero(lane(mode, hi, ghi, k)), 0, 1, 4, 5);
    v128.store(mode === 0 ? x + i : g + i, out);
  }
  return outside;
}
