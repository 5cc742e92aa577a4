import { describe, expect, it } from 'vitest';
import { erf, erfc } from '../../../src/engine/math/erf.js';

// [x, erf(x), erfc(x)], each rounded from 40-digit values (mpmath), spanning the Maclaurin range
// (|x| < 0.5), both sides of the switch points 0.5 and 2, and the far tail down to erfc(26) ≈ 6e-296.
const REFERENCE: [number, number, number][] = [
  [0, 0.0, 1.0],
  [1e-300, 1.1283791670955126e-300, 1.0],
  [1e-8, 1.1283791670955126e-8, 0.9999999887162083],
  [0.1, 0.1124629160182849, 0.8875370839817152],
  [0.25, 0.27632639016823696, 0.7236736098317631],
  [0.4999, 0.5204119951613866, 0.4795880048386134],
  [0.5, 0.5204998778130465, 0.4795001221869535],
  [0.75, 0.7111556336535151, 0.28884436634648486],
  [1, 0.8427007929497149, 0.15729920705028513],
  [1.5, 0.9661051464753108, 0.033894853524689274],
  [1.9999, 0.9953201979070294, 0.004679802092970609],
  [2, 0.9953222650189527, 0.004677734981047266],
  [2.5, 0.999593047982555, 0.0004069520174449589],
  [3, 0.9999779095030014, 2.209049699858544e-5],
  [4, 0.9999999845827421, 1.541725790028002e-8],
  [5, 0.9999999999984626, 1.537459794428035e-12],
  [6, 1.0, 2.1519736712498913e-17],
  [8, 1.0, 1.1224297172982926e-29],
  [10, 1.0, 2.088487583762545e-45],
  [15, 1.0, 7.212994172451207e-100],
  [20, 1.0, 5.395865611607901e-176],
  [26, 1.0, 5.663192408856143e-296],
  [-0.3, -0.32862675945912745, 1.3286267594591274],
  [-1, -0.8427007929497149, 1.8427007929497148],
  [-3, -0.9999779095030014, 1.9999779095030015],
  [-6, -1.0, 2.0],
];

function relativeError(actual: number, expected: number): number {
  return expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
}

describe('erf and erfc', () => {
  it('match 40-digit reference values to a relative error below 1e-15, deep into the tail', () => {
    for (const [x, e, c] of REFERENCE) {
      expect(relativeError(erf(x), e), `erf(${x}) = ${erf(x)}`).toBeLessThan(1e-15);
      expect(relativeError(erfc(x), c), `erfc(${x}) = ${erfc(x)}`).toBeLessThan(1e-15);
    }
  });

  it('are odd and complementary, so erf(x) + erfc(x) = 1 across the switch points', () => {
    for (let x = -7; x <= 7; x += 0.0625) {
      expect(erf(-x)).toBe(-erf(x));
      expect(Math.abs(erf(x) + erfc(x) - 1)).toBeLessThanOrEqual(2 ** -52);
    }
  });

  it('handles infinities, underflow and NaN', () => {
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erfc(28)).toBe(0);
    expect(erfc(27)).toBeGreaterThan(0); // ≈ 5.2e-319, a subnormal
    expect(erf(Number.NaN)).toBeNaN();
    expect(erfc(Number.NaN)).toBeNaN();
  });
});
