// tanh (and, at the end of this file, the logistic sigmoid) on float32, four lanes at a time, in place
// on a chunk the JS side copied in (src/engine/kernels/wasm.ts): several times faster than Math.tanh,
// and within 1.51 ulp of tanh over every float32 checked (test/engine/ops/tanh.test.ts; 1.50
// over every 97th bit pattern):
// - |x| < 0.55: x + x³·P(x²), P of degree 4 fitted for relative error (≤ 0.81 ulp);
// - else (1 − t)/(1 + t) with t = exp(−2·min(|x|, 9)); either with the sign of x (≤ 1.51 ulp; from |x| = 9 on,
//   tanh rounds to ±1). exp is Cephes' expf: 2^k·e^r with r = y − k·ln 2 in two parts, and a degree-7
//   polynomial for e^r.
// NaN stays NaN, ±∞ gives ±1, −0 stays −0.

const S0: f32 = -0.33333316445350647;
const S1: f32 = 0.13332580029964447;
const S2: f32 = -0.05385185778141022;
const S3: f32 = 0.021070225164294243;
const S4: f32 = -0.006272563710808754;
const SMALL: f32 = 0.55;
const CLAMP: f32 = 9;

export const LOG2E: f32 = 1.44269504088896341;
export const LN2_HI: f32 = 0.693359375;
export const LN2_LO: f32 = -2.12194440e-4;
export const E0: f32 = 1.9875691500e-4;
export const E1: f32 = 1.3981999507e-3;
export const E2: f32 = 8.3334519073e-3;
export const E3: f32 = 4.1665795894e-2;
export const E4: f32 = 1.6666665459e-1;
export const E5: f32 = 5.0000001201e-1;

// The constants, read once per call: splats of literals would be folded back into v128.const inside
// the loop, which V8 rebuilds every pass.
const K = memory.data<f32>([S0, S1, S2, S3, S4, E0, E1, E2, E3, E4, E5, SMALL, CLAMP, -2, LOG2E, LN2_HI, LN2_LO, 1, 12582912,
  reinterpret<f32>(0x4b400000 - 127), reinterpret<f32>(0x80000000)]);

/**
 * x ← tanh(x) for n float32 at byte offset x. Whole vectors: the ⌈n/4⌉·4 elements there are all
 * written, so the caller leaves room for them (the lanes past n are its scratch).
 */
export function tanh32(x: usize, n: i32): void {
  const c = K;
  const s0 = v128.load32_splat(c), s1 = v128.load32_splat(c + 4), s2 = v128.load32_splat(c + 8), s3 = v128.load32_splat(c + 12), s4 = v128.load32_splat(c + 16);
  const e0 = v128.load32_splat(c + 20), e1 = v128.load32_splat(c + 24), e2 = v128.load32_splat(c + 28), e3 = v128.load32_splat(c + 32), e4 = v128.load32_splat(c + 36), e5 = v128.load32_splat(c + 40);
  const small = v128.load32_splat(c + 44), clamp = v128.load32_splat(c + 48), minus2 = v128.load32_splat(c + 52), log2e = v128.load32_splat(c + 56);
  const ln2hi = v128.load32_splat(c + 60), ln2lo = v128.load32_splat(c + 64), one = v128.load32_splat(c + 68), magic = v128.load32_splat(c + 72);
  const magicBias = v128.load32_splat(c + 76), sign = v128.load32_splat(c + 80);
  const end = x + (<usize>n << 2);
  for (let p = x; p < end; p += 16) {
    const v = v128.load(p);
    const a = f32x4.abs(v);
    // on |x|, the sign put back at the end (so −0 stays −0). |x| < 0.55: |x| + |x|³·P(x²)
    const z = f32x4.mul(v, v);
    const q = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(s4, z), s3), z), s2), z), s1), z), s0);
    const near0 = f32x4.add(a, f32x4.mul(f32x4.mul(a, z), q));
    // else (1 − t)/(1 + t), t = exp(y), y = −2·min(|x|, 9) = (k + r/ln 2)·ln 2
    const y = f32x4.mul(f32x4.pmin(clamp, a), minus2);
    // k = y/ln 2 rounded to nearest even by adding 1.5·2^23: k's integer is then in the low bits
    const kb = f32x4.add(f32x4.mul(y, log2e), magic);
    const k = f32x4.sub(kb, magic);
    const r = f32x4.sub(f32x4.sub(y, f32x4.mul(k, ln2hi)), f32x4.mul(k, ln2lo));
    const e = expPoly(r, e0, e1, e2, e3, e4, e5, one);
    // 2^k from its exponent bits: k is in [−26, 0] here
    const t = f32x4.mul(e, i32x4.shl(i32x4.sub(kb, magicBias), 23));
    const far = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
    const out = v128.or(v128.bitselect(near0, far, f32x4.lt(a, small)), v128.and(v, sign));
    // a NaN stays itself
    v128.store(p, v128.bitselect(v, out, f32x4.ne(v, v)));
  }
}

/** e^r for |r| ≤ ln 2 / 2: Cephes' expf polynomial. */
@inline export function expPoly(r: v128, e0: v128, e1: v128, e2: v128, e3: v128, e4: v128, e5: v128, one: v128): v128 {
  let e = f32x4.add(f32x4.mul(e0, r), e1);
  e = f32x4.add(f32x4.mul(e, r), e2);
  e = f32x4.add(f32x4.mul(e, r), e3);
  e = f32x4.add(f32x4.mul(e, r), e4);
  e = f32x4.add(f32x4.mul(e, r), e5);
  return f32x4.add(f32x4.add(f32x4.mul(e, f32x4.mul(r, r)), r), one);
}

const S = memory.data<f32>([E0, E1, E2, E3, E4, E5, LOG2E, LN2_HI, LN2_LO, 1, 12582912, reinterpret<f32>(0x4b400000), reinterpret<f32>(127)]);

const SIGMOID: i32 = 0;
const SILU: i32 = 1;

/**
 * The logistic family on n float32, whole vectors as tanh32, from t = e^−|x| with |x| clamped to
 * `clamp`: σ(x) = 1/(1 + t) for x ≥ 0, t/(1 + t) below, and 1 − σ(x) the other one, so small values keep
 * their relative precision (as src/engine/math/logistic.ts). t = 2^k·e^r as in tanh32, 2^k applied in
 * two halves so that k down to −152 stays a product of normal numbers, the last one rounding once into
 * the subnormals.
 * - mode SIGMOID: x ← σ(x); clamp 105, past which σ(−x) rounds to 0;
 * - mode SILU: x ← x·σ(x), as x/(1 + t) or x·t/(1 + t); SILU_GRAD: g ← g·σ(x)·(1 + x·(1 − σ(x))), x and
 *   g at their offsets. Clamp 80, where t is still a normal number: past it the caller computes the
 *   element (src/engine/kernels/wasm.ts).
 * Returns how many of the vectors' elements have |x| > clamp (±∞ included). NaN stays NaN.
 */
export function logistic32(mode: i32, x: usize, g: usize, n: i32, clamp: f32): i32 {
  const c = S;
  const e0 = v128.load32_splat(c), e1 = v128.load32_splat(c + 4), e2 = v128.load32_splat(c + 8), e3 = v128.load32_splat(c + 12), e4 = v128.load32_splat(c + 16), e5 = v128.load32_splat(c + 20);
  const log2e = v128.load32_splat(c + 24), ln2hi = v128.load32_splat(c + 28), ln2lo = v128.load32_splat(c + 32);
  const one = v128.load32_splat(c + 36), magic = v128.load32_splat(c + 40), magicBits = v128.load32_splat(c + 44), bias = v128.load32_splat(c + 48);
  const range = f32x4.splat(clamp);
  const zero = f32x4.splat(0);
  const bytes = <usize>n << 2;
  let outside = 0;
  for (let i: usize = 0; i < bytes; i += 16) {
    const v = v128.load(x + i);
    const a = f32x4.abs(v);
    outside += <i32>popcnt(i32x4.bitmask(f32x4.gt(a, range)));
    // y = −min(|x|, clamp) = (k + r/ln 2)·ln 2, k rounded to nearest even by the 1.5·2^23 trick
    const y = f32x4.neg(f32x4.pmin(range, a));
    const kb = f32x4.add(f32x4.mul(y, log2e), magic);
    const k = f32x4.sub(kb, magic);
    const r = f32x4.sub(f32x4.sub(y, f32x4.mul(k, ln2hi)), f32x4.mul(k, ln2lo));
    // k as an integer (kb's low bits), split in two halves, each 2^half from its exponent bits
    const ki = i32x4.sub(kb, magicBits);
    const k1 = i32x4.shr_s(ki, 1);
    const k2 = i32x4.sub(ki, k1);
    const e = expPoly(r, e0, e1, e2, e3, e4, e5, one);
    const t = f32x4.mul(f32x4.mul(e, i32x4.shl(i32x4.add(k1, bias), 23)), i32x4.shl(i32x4.add(k2, bias), 23));
    const d = f32x4.add(one, t);
    const nonNegative = f32x4.ge(v, zero);
    let out: v128;
    if (mode === SIGMOID) {
      out = f32x4.div(v128.bitselect(one, t, nonNegative), d);
    } else if (mode === SILU) {
      out = f32x4.div(v128.bitselect(v, f32x4.mul(v, t), nonNegative), d);
    } else {
      const s = f32x4.div(v128.bitselect(one, t, nonNegative), d);
      const rest = f32x4.div(v128.bitselect(t, one, nonNegative), d); // 1 − σ(x)
      out = f32x4.mul(v128.load(g + i), f32x4.mul(s, f32x4.add(one, f32x4.mul(v, rest))));
    }
    v128.store(mode <= SILU ? x + i : g + i, v128.bitselect(v, out, f32x4.ne(v, v)));
  }
  return outside;
}
