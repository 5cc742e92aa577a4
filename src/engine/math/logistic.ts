// Logistic-family scalars in forms that neither overflow nor lose small values for any finite x.

/** σ(x) = 1/(1 + e⁻ˣ); e^−|x| ≤ 1, and the x < 0 branch keeps tiny results instead of rounding 1 + e⁻ˣ. */
export function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|), which never overflows and stays exact for large |x|. */
export function log1pExp(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
