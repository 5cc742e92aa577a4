// The error function to near full double precision (the exact GELU needs it; Math has none).

const TWO_OVER_SQRT_PI = 1.1283791670955126;

// NOTE: for z ≥ 0, erfc(z) = t·exp(−z² + h(u)) with t = 2/(2 + z) and u = 2t − 1 = (2 − z)/(2 + z)
// (Schonfelder 1978). h is smooth on u ∈ [−1, 1] (u = −1 is z = ∞), so a Chebyshev series of 30 terms
// gives it to ~1e-18. These coefficients are our own: Chebyshev interpolation of h at 80 nodes in
// 60-digit arithmetic (mpmath), the first halved, truncated where they fall below 1e-18.
const CHEB = [
  -0.6513268598908547, 0.6419697923564902, 0.019476473204185836, -0.009561514786808632,
  -0.0009465953444820369, 0.00036683949785276145, 4.252332480690777e-5, -2.0278578112534242e-5,
  -1.6242900046470256e-6, 1.3036558355805232e-6, 1.5626441722066142e-8, -8.523809591492654e-8,
  6.5290544390988515e-9, 5.059343495551469e-9, -9.91364156493033e-10, -2.273651222931836e-10,
  9.646791102015527e-11, 2.3940380830391146e-12, -6.886027526497553e-12, 8.944879273090725e-13,
  3.130921399342958e-13, -1.1270822361367252e-13, 3.810905255189232e-16, 7.106097613609237e-15,
  -1.5230282014571043e-15, -9.457494571291233e-17, 1.210237189224279e-16, -2.816663087747177e-17,
  5.003005559445902e-20, 2.3281042579529253e-18,
];

// Maclaurin series erf(x) = 2/√π · Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n + 1)); 13 terms reach 1e-17 for |x| < 0.5.
const TAYLOR: number[] = [];
for (let n = 0, fact = 1; n < 13; n++, fact *= n) {
  TAYLOR.push(((n % 2 === 0 ? 1 : -1) * TWO_OVER_SQRT_PI) / (fact * (2 * n + 1)));
}

function chebyshev(u: number): number {
  let b1 = 0;
  let b2 = 0;
  const u2 = 2 * u;
  for (let j = CHEB.length - 1; j >= 1; j--) {
    const b = u2 * b1 - b2 + CHEB[j]!;
    b2 = b1;
    b1 = b;
  }
  return u * b1 - b2 + CHEB[0]!;
}

/** Complementary error function 1 − erf(x), with small relative error also deep in the tail. */
export function erfc(x: number): number {
  const z = Math.abs(x);
  // below the smallest subnormal from here on (and keeps z = ∞ away from ∞/∞)
  if (z > 27.5) return x > 0 ? 0 : 2;
  const t = 2 / (2 + z);
  const u = (2 - z) / (2 + z);
  let r: number;
  if (z < 2) {
    r = t * Math.exp(chebyshev(u) - z * z);
  } else {
    // NOTE: z² = s² + (z − s)(z + s) with s = z rounded to float32: s² is then exact in float64, so the
    // large exponent loses no digits (the relative error would otherwise grow like z²·2⁻⁵³).
    const s = Math.fround(z);
    r = t * Math.exp(-s * s) * Math.exp(chebyshev(u) - (z - s) * (z + s));
  }
  return x >= 0 ? r : 2 - r;
}

export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 0.5) {
    const x2 = x * x;
    let p = 0;
    for (let n = TAYLOR.length - 1; n >= 0; n--) p = p * x2 + TAYLOR[n]!;
    return x * p;
  }
  const r = 1 - erfc(z);
  return x < 0 ? -r : r;
}
