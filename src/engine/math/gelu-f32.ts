// The exact GELU x·Φ(x) and its derivative for float32 tensors, in float32 arithmetic (every step
// rounded by Math.fround): the rule the WebAssembly kernel (src/engine/kernels/wasm/assembly/gelu.ts)
// runs four lanes at a time, step for step, so both give the same bits.
//
// NOTE: with a = |x|, everything comes from the lower tail, Φ(−a) = h(a)·e^(−a²/2):
// - gelu(x) = x + gelu(−a) for x ≥ 0, gelu(−a) below, gelu(−a) = −a·h·e^(−a²/2) (no 1 − Φ to cancel);
// - gelu′(x) = 1 − gelu′(−a) for x ≥ 0, gelu′(−a) below, gelu′(−a) = (h − a/√(2π))·e^(−a²/2), so the
//   backward pass shares the forward's one exponential between Φ and φ.
// h(a) = erfc(a/√2)·e^(a²/2)/2 is smooth and bounded: a polynomial of degree 10 in t = 1/(1 + a/4)
// (scripts/fit-gelu-f32.py; relative error 5e-9 for a ≤ 16), corrected once for the rounding of t, which
// would otherwise move h's argument by up to (4 + a)·2⁻²³ (several ulp near a = 0). e^(−a²/2) keeps its
// relative precision where a² is large: a²/2 = s²/2 + (a − s)(a + s)/2 with s = a cut to 12 significant
// bits, so s² is exact and only the small second part rounds; the exponential is Cephes' expf (as
// tanh.ts) on that two-part argument, its 2^k applied last.
// Valid for |x| ≤ GELU_F32_RANGE, where e^(−x²/2) and every result are normal float32 numbers; the
// caller takes the rest (the float64 rule, rounded: gelu is x there, or tiny, or −0). Within 5 float32
// ulp of x·Φ(x), the derivative of its larger term Φ or x·φ (test/engine/ops/gelu.test.ts).

const fr = Math.fround;

export const GELU_F32_RANGE = 13;

const H = [
  -5.008185326005332e-6, 0.09985872358083725, 0.09842442721128464, 0.10142012685537338, 0.05126170814037323,
  0.13505037128925323, -0.0633602887392044, 0.10808122903108597, -0.0015780897811055183, -0.042252954095602036,
  0.013099747709929943,
].map(fr);
const INV_SQRT_2PI = fr(0.3989422804014327);
// Cephes' expf, as src/engine/kernels/wasm/assembly/tanh.ts
const [E0, E1, E2, E3, E4, E5] = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(fr);
const [LOG2E, LN2_HI, LN2_LO, MAGIC] = [1.44269504088896341, 0.693359375, -2.1219444e-4, 12582912].map(fr);

const word = new Float32Array(1);
const bits = new Uint32Array(word.buffer);
// h, e^r and k of the last tail(a): Φ(−a) = h·e^r·2^k
let h = 0;
let er = 0;
let k = 0;

function tail(a: number): void {
  const q = fr(a * 0.25);
  const d = fr(1 + q);
  const t = fr(1 / d);
  // two chains of multiply-adds, H0…H4 and H5…H10, rather than one of ten (as the kernel, whose lanes
  // would wait on it): h = low + t⁵·high
  let low = H[4]!;
  for (let j = 3; j >= 0; j--) low = fr(fr(low * t) + H[j]!);
  let high = H[10]!;
  for (let j = 9; j >= 5; j--) high = fr(fr(high * t) + H[j]!);
  const t2 = fr(t * t);
  h = fr(low + fr(high * fr(fr(t2 * t2) * t)));
  // t, rounded, is 1/(1 + a′/4) for a′ = a + 4ρ(1 + a/4), ρ = 1 − t(1 + a/4): h(a) ≈ h(a′) − h′(a′)·(a′ − a),
  // h′ = a·h − 1/√(2π)
  const rho = fr(fr(1 - t) - fr(t * q));
  h = fr(h - fr(fr(fr(a * h) - INV_SQRT_2PI) * fr(rho * fr(d * 4))));
  word[0] = a;
  bits[0] = bits[0]! & 0xfffff000;
  const s = word[0]!;
  const hi = fr(fr(s * s) * -0.5);
  const lo = fr(fr(fr(s - a) * fr(a + s)) * 0.5);
  k = fr(fr(fr(fr(hi + lo) * LOG2E) + MAGIC) - MAGIC);
  const r = fr(fr(fr(hi - fr(k * LN2_HI)) + lo) - fr(k * LN2_LO));
  let p = fr(fr(E0 * r) + E1);
  p = fr(fr(p * r) + E2);
  p = fr(fr(p * r) + E3);
  p = fr(fr(p * r) + E4);
  p = fr(fr(p * r) + E5);
  er = fr(fr(fr(p * fr(r * r)) + r) + 1);
}

/** v·2^k */
const scale = (v: number): number => fr(v * 2 ** k);

/** gelu(x) in float32 arithmetic, |x| ≤ GELU_F32_RANGE. */
export function geluF32Rule(x: number): number {
  const a = Math.abs(x);
  tail(a);
  const w = scale(fr(fr(-a * h) * er));
  return x >= 0 ? fr(x + w) : w;
}

/** g·gelu′(x) in float32 arithmetic, |x| ≤ GELU_F32_RANGE. */
export function geluGradF32Rule(x: number, g: number): number {
  const a = Math.abs(x);
  tail(a);
  const d = scale(fr(fr(h - fr(a * INV_SQRT_2PI)) * er));
  return fr(g * (x >= 0 ? fr(1 - d) : d));
}
