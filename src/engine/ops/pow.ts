import { ELEMENT_FLOPS } from '../cost.js';
import { size } from '../tensor.js';
import { binaryOp } from './elementwise.js';

/** the exponents computed without Math.pow (for ±½, where a > 0) */
const CHEAP = new Set([2, 3, -1, -2, 0.5, -0.5]);

// NOTE: PyTorch masks two partials whose formula is 0·∞ = NaN where the true one-sided limit is 0:
// the base's where b = 0 (b·a^(b−1) at a = 0), and the exponent's where a = 0 and b ≥ 0 (0^b·ln 0).
// Elsewhere the formulas stand as written, so for a < 0 the exponent's gradient is NaN (ln a), also as
// in PyTorch; it only matters when the exponent is trainable.
export const pow = binaryOp({
  name: 'pow',
  summary: 'aᵇ, elementwise with broadcasting (NaN for a < 0 with non-integer b, as in PyTorch)',
  derivative: '∂(aᵇ)/∂a = b·aᵇ⁻¹ (0 where b = 0); ∂(aᵇ)/∂b = aᵇ·ln(a) (0 where a = 0 and b ≥ 0)',
  // The exponents torch's scalar-exponent kernels compute without pow (x ** 2, x ** 3, 1 / x, 1 / x²,
  // x ** 0.5, x ** −0.5) as one or two operations here too: Math.pow is a call V8 never inlines, many
  // times an inlined operation's cost. sqrt only for a > 0: pow(a, ±½) and sqrt(a) part at −0 and −∞.
  f: (a, b) =>
    b === 2
      ? a * a
      : b === 3
        ? a * a * a
        : b === -1
          ? 1 / a
          : b === -2
            ? 1 / (a * a)
            : b === 0.5 && a > 0
              ? Math.sqrt(a)
              : b === -0.5 && a > 0
                ? 1 / Math.sqrt(a)
                : Math.pow(a, b),
  da: (a, b) =>
    b === 0
      ? 0
      : b === 2
        ? 2 * a
        : b === 3
          ? 3 * (a * a)
          : b === -1
            ? -1 / (a * a)
            : b === -2
              ? -2 / (a * a * a)
              : b === 0.5 && a > 0
                ? 0.5 / Math.sqrt(a)
                : b === -0.5 && a > 0
                  ? -0.5 / (a * Math.sqrt(a))
                  : b * Math.pow(a, b - 1),
  db: (a, b, y) => (a === 0 && b >= 0 ? 0 : y * Math.log(a)),
  // Math.pow both ways costs many times the exponents above, which cost what any binary op does; an exponent
  // not known before running (an input, a parameter) counts as one of them, so that the budget never
  // refuses what could finish
  flops: (_inputs, out, _attrs, [, b]) => size(out) * (b === undefined || b.data.every((e) => CHEAP.has(e)) ? 3 * ELEMENT_FLOPS : 72),
});
