// The exact GELU x·Φ(x) and its gradient on float32, four lanes at a time, in place on chunks the JS side
// copied in (src/engine/kernels/wasm.ts): the float32 rule of src/engine/math/gelu-f32.ts (where the
// method is explained), step for step in the same order, so each lane gives the JS rule's bits.

import { E0, E1, E2, E3, E4, E5, LOG2E, LN2_HI, LN2_LO, expPoly } from './tanh';

// h(t), t^0 first (scripts/fit-gelu-f32.py)
const H0: f32 = -5.008185326005332e-6, H1: f32 = 0.09985872358083725, H2: f32 = 0.09842442721128464;
const H3: f32 = 0.10142012685537338, H4: f32 = 0.05126170814037323, H5: f32 = 0.13505037128925323;
const H6: f32 = -0.0633602887392044, H7: f32 = 0.10808122903108597, H8: f32 = -0.0015780897811055183;
const H9: f32 = -0.042252954095602036, H10: f32 = 0.013099747709929943;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
// GELU_F32_RANGE of gelu-f32.ts: past it, and for NaN, the caller computes the element
const RANGE: f32 = 13;

// read once per call (see tanh.ts: splats of literals are rebuilt inside the loop)
const K = memory.data<f32>([
  H0, H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, INV_SQRT_2PI, 4, 0.25, 1, -0.5, 0.5,
  E0, E1, E2, E3, E4, E5, LOG2E, LN2_HI, LN2_LO, 12582912, reinterpret<f32>(0xfffff000), reinterpret<f32>(0x4b400000), reinterpret<f32>(127),
]);

/**
 * mode 0: x ← gelu(x); mode 1: g ← g·gelu′(x); mode 2: x ← gelu(x) and g ← gelu′(x) (the factor of mode
 * 1, for the backward pass to multiply by later: the same bits); over n float32 at byte offsets x and g;
 * whole vectors, as tanh32. Returns 1 when any of the vectors' elements is NaN or has |x| > 13 (the
 * caller then computes those), else 0.
 */
export function gelu32(mode: i32, x: usize, g: usize, n: i32): i32 {
  // each mode's loop compiled apart (a constant mode folds the other's branches away)
  return mode === 0 ? geluLoop(0, x, g, n) : mode === 1 ? geluLoop(1, x, g, n) : geluLoop(2, x, g, n);
}

@inline function geluLoop(mode: i32, x: usize, g: usize, n: i32): i32 {
  const c = K;
  const h0 = v128.load32_splat(c), h1 = v128.load32_splat(c + 4), h2 = v128.load32_splat(c + 8), h3 = v128.load32_splat(c + 12);
  const h4 = v128.load32_splat(c + 16), h5 = v128.load32_splat(c + 20), h6 = v128.load32_splat(c + 24), h7 = v128.load32_splat(c + 28);
  const h8 = v128.load32_splat(c + 32), h9 = v128.load32_splat(c + 36), h10 = v128.load32_splat(c + 40);
  const invSqrt2Pi = v128.load32_splat(c + 44), four = v128.load32_splat(c + 48), quarter = v128.load32_splat(c + 52);
  const one = v128.load32_splat(c + 56), minusHalf = v128.load32_splat(c + 60), half = v128.load32_splat(c + 64);
  const e0 = v128.load32_splat(c + 68), e1 = v128.load32_splat(c + 72), e2 = v128.load32_splat(c + 76), e3 = v128.load32_splat(c + 80);
  const e4 = v128.load32_splat(c + 84), e5 = v128.load32_splat(c + 88), log2e = v128.load32_splat(c + 92);
  const ln2hi = v128.load32_splat(c + 96), ln2lo = v128.load32_splat(c + 100), magic = v128.load32_splat(c + 104);
  const cut = v128.load32_splat(c + 108), magicBits = v128.load32_splat(c + 112), bias = v128.load32_splat(c + 116);
  const zero = f32x4.splat(0);
  const bytes = <usize>n << 2;
  // the largest |x| (f32x4.max keeps a NaN)
  let most = f32x4.splat(0);
  for (let i: usize = 0; i < bytes; i += 16) {
    const v = v128.load(x + i);
    const a = f32x4.abs(v);
    most = f32x4.max(most, a);
    const q = f32x4.mul(a, quarter);
    const d = f32x4.add(one, q);
    const t = f32x4.div(one, d);
    // h(t) = low + t⁵·high, two chains of multiply-adds in gelu-f32.ts's order
    let low = f32x4.add(f32x4.mul(h4, t), h3);
    low = f32x4.add(f32x4.mul(low, t), h2);
    low = f32x4.add(f32x4.mul(low, t), h1);
    low = f32x4.add(f32x4.mul(low, t), h0);
    let high = f32x4.add(f32x4.mul(h10, t), h9);
    high = f32x4.add(f32x4.mul(high, t), h8);
    high = f32x4.add(f32x4.mul(high, t), h7);
    high = f32x4.add(f32x4.mul(high, t), h6);
    high = f32x4.add(f32x4.mul(high, t), h5);
    const t2 = f32x4.mul(t, t);
    let h = f32x4.add(low, f32x4.mul(high, f32x4.mul(f32x4.mul(t2, t2), t)));
    // for t rounded (gelu-f32.ts): h − (a·h − 1/√(2π))·ρ·4(1 + q), ρ = (1 − t) − t·q
    const rho = f32x4.sub(f32x4.sub(one, t), f32x4.mul(t, q));
    h = f32x4.sub(h, f32x4.mul(f32x4.sub(f32x4.mul(a, h), invSqrt2Pi), f32x4.mul(rho, f32x4.mul(d, four))));
    // −a²/2 = hi + lo, hi exact; e^(hi + lo) = e^r·2^k
    const s = v128.and(a, cut);
    const hi = f32x4.mul(f32x4.mul(s, s), minusHalf);
    const lo = f32x4.mul(f32x4.mul(f32x4.sub(s, a), f32x4.add(a, s)), half);
    const kb = f32x4.add(f32x4.mul(f32x4.add(hi, lo), log2e), magic);
    const k = f32x4.sub(kb, magic);
    const r = f32x4.sub(f32x4.add(f32x4.sub(hi, f32x4.mul(k, ln2hi)), lo), f32x4.mul(k, ln2lo));
    const er = expPoly(r, e0, e1, e2, e3, e4, e5, one);
    // 2^k from its exponent bits (k ≥ −122 for |x| ≤ 13)
    const scale = i32x4.shl(i32x4.add(i32x4.sub(kb, magicBits), bias), 23);
    const nonNegative = f32x4.ge(v, zero);
    if (mode !== 1) {
      const w = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.neg(a), h), er), scale);
      v128.store(x + i, v128.bitselect(f32x4.add(v, w), w, nonNegative));
    }
    if (mode !== 0) {
      const d = f32x4.mul(f32x4.mul(f32x4.sub(h, f32x4.mul(a, invSqrt2Pi)), er), scale);
      const slope = v128.bitselect(f32x4.sub(one, d), d, nonNegative);
      v128.store(g + i, mode === 1 ? f32x4.mul(v128.load(g + i), slope) : slope);
    }
  }
  // f32.max keeps a NaN too
  const m = max(max(f32x4.extract_lane(most, 0), f32x4.extract_lane(most, 1)), max(f32x4.extract_lane(most, 2), f32x4.extract_lane(most, 3)));
  return <i32>!(m <= RANGE);
}
