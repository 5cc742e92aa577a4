import { binaryOp } from './elementwise.js';

// NOTE: PyTorch masks two partials whose formula is 0·∞ = NaN where the true one-sided limit is 0:
// the base's where b = 0 (b·a^(b−1) at a = 0), and the exponent's where a = 0 and b ≥ 0 (0^b·ln 0).
// Elsewhere the formulas stand as written, so for a < 0 the exponent's gradient is NaN (ln a), also as
// in PyTorch; it only matters when the exponent is trainable.
export const pow = binaryOp({
  name: 'pow',
  summary: 'aᵇ, elementwise with broadcasting (NaN for a < 0 with non-integer b, as in PyTorch)',
  derivative: '∂(aᵇ)/∂a = b·aᵇ⁻¹ (0 where b = 0); ∂(aᵇ)/∂b = aᵇ·ln(a) (0 where a = 0 and b ≥ 0)',
  // a square (x ** 2: norms, variances, squared errors) as one product: correctly rounded, and
  // Math.pow is a call V8 never inlines, ~50 ns an element here
  f: (a, b) => (b === 2 ? a * a : Math.pow(a, b)),
  da: (a, b) => (b === 0 ? 0 : b === 2 ? 2 * a : b * Math.pow(a, b - 1)),
  db: (a, b, y) => (a === 0 && b >= 0 ? 0 : y * Math.log(a)),
});
