// Float32 numbers written as the shortest decimal that reads back as the same float32 (`0.4`, as numpy
// and torch print them), where JavaScript would print the float32's exact double (`0.4000000059604645`).
// The digits are those of Ryu and of ECMAScript's Number::toString, applied to the float32's rounding
// interval: the fewest significant digits of any decimal inside it; of those, the nearest to the value;
// of two as near, the even one. They are written in Number::toString's form, so a float32 answer reads
// as a float64 one does and String(Number(text)) === text.

/** 10^i, correctly rounded (exact up to 10^22) */
const POW10 = Array.from({ length: 61 }, (_, i) => Number(`1e${i}`));
/** 2^(i − 152): every float32's unit in the last place, and its halves and quarters */
const POW2 = Float64Array.from({ length: 260 }, (_, i) => 2 ** (i - 152));
/** floor(log10(2^(b − 127))) − 8 for a normal float32's biased exponent b: its q, or q − 1 */
const Q_OF_EXPONENT = Int8Array.from({ length: 255 }, (_, b) => Math.floor(Math.log10(2 ** (b - 127))) - 8);

/**
 * How far a scaled bound may be from its true value when the scaling is inexact (at most three
 * roundings of a number under 2^31: < 2^-21), with a margin; a bound this close to an integer, or a
 * value this close to a half, leaves the choice to the exact method.
 */
const SLACK = 1e-6;

// The result of shortest() and shortestExact(): the value is digits × 10^exp10 (digits < 10^9, no trailing zero).
let digits = 0;
let exp10 = 0;

/** x × 10^−q; exact when x has at most 26 significant bits and −11 ≤ q ≤ 0 (5^11 < 2^26, 26 + 26 < 53). */
function scale(x: number, q: number): number {
  return q <= 0 ? x * POW10[-q]! : x / POW10[q]!;
}

/**
 * The shortest digits of the positive finite float32 with these bits, into `digits` and `exp10`.
 * The value v = n·2^e and the bounds of its rounding interval, v minus and plus half the gap to each
 * neighbour, are scaled to 10^−q so that v has nine digits before the point; the grid of integers then
 * holds every nine-digit decimal near v, and the coarsest grid of multiples of 10^j that still meets the
 * interval gives the fewest digits. The scaling is exact for most of the range that matters; elsewhere
 * a bound, or a tie, too close to call goes to shortestExact.
 */
function shortest(bits: number): void {
  const biased = bits >>> 23;
  const frac = bits & 0x7fffff;
  const n = biased === 0 ? frac : frac | 0x800000;
  const e = (biased === 0 ? 1 : biased) - 150;
  const v = n * POW2[e + 152]!;
  // NOTE: just above a power of two the gap below is half the gap above
  const below = POW2[(frac === 0 && biased > 1 ? e - 2 : e - 1) + 152]!;
  const above = POW2[e - 1 + 152]!;
  let q = biased === 0 ? Math.floor(Math.log10(v)) - 8 : Q_OF_EXPONENT[biased]!;
  let V = scale(v, q);
  // a binade spans a power of ten at most once; Math.log10 may be one off next to one
  if (V >= 1e9) V = scale(v, ++q);
  else if (V < 1e8) V = scale(v, --q);
  const exact = q <= 0 && q >= -11;
  const L = scale(v - below, q);
  const H = scale(v + above, q);
  let lo = Math.ceil(L);
  let hi = Math.floor(H);
  if (exact) {
    // ties to even: a bound belongs to the interval when n is even
    if ((n & 1) === 1) {
      if (lo === L) lo++;
      if (hi === H) hi--;
    }
  } else if (lo - L < SLACK || L - lo + 1 < SLACK || H - hi < SLACK || hi + 1 - H < SLACK) {
    shortestExact(bits);
    return;
  }
  // the interval holds at least four integers, so j = 0 always meets it
  let j = 0;
  while (Math.floor(hi / POW10[j + 1]!) * POW10[j + 1]! >= lo) j++;
  const unit = POW10[j]!;
  const a = Math.ceil(lo / unit);
  const b = Math.floor(hi / unit);
  let k = a;
  if (a < b) {
    // the nearest multiple of unit to V; V − k0·unit is exact whenever V is
    let k0 = Math.floor(V / unit);
    if (k0 * unit > V) k0--;
    else if ((k0 + 1) * unit <= V) k0++;
    const twice = 2 * (V - k0 * unit);
    if (!exact && Math.abs(twice - unit) < 2 * SLACK) {
      shortestExact(bits);
      return;
    }
    // NOTE: within [a, b]: a symmetric interval that holds two multiples holds V's nearest, and so
    // does each lopsided one, a power of two's (the tests try all)
    k = twice > unit || (twice === unit && (k0 & 1) === 1) ? k0 + 1 : k0;
  }
  digits = k;
  exp10 = q + j;
}

/**
 * shortest() in exact integer arithmetic: every quantity over the common denominator 2^max(0, 2 − e),
 * grids of 10^t tried from coarse to fine. Slow, and reached only where shortest() cannot decide.
 */
function shortestExact(bits: number): void {
  const biased = bits >>> 23;
  const frac = bits & 0x7fffff;
  const n = biased === 0 ? frac : frac | 0x800000;
  const e = (biased === 0 ? 1 : biased) - 150;
  const up = BigInt(Math.max(0, e - 2));
  // v, and the interval's bounds, in quarters of the gap above v
  const V = BigInt(4 * n) << up;
  const L = BigInt(4 * n - (frac === 0 && biased > 1 ? 1 : 2)) << up;
  const H = BigInt(4 * n + 2) << up;
  const D = 1n << BigInt(Math.max(0, 2 - e));
  const inclusive = (n & 1) === 0;
  for (let t = Math.floor(Math.log10(n * POW2[e + 152]!)) + 2; ; t--) {
    const m = 10n ** BigInt(Math.max(0, -t));
    const g = D * 10n ** BigInt(Math.max(0, t));
    let a = (L * m + g - 1n) / g;
    let b = (H * m) / g;
    if (!inclusive) {
      if (a * g === L * m) a++;
      if (b * g === H * m) b--;
    }
    if (a > b) continue;
    let k = a;
    if (a < b) {
      const k0 = (V * m) / g;
      const twice = 2n * (V * m - k0 * g);
      k = twice > g || (twice === g && k0 % 2n === 1n) ? k0 + 1n : k0;
    }
    digits = Number(k);
    exp10 = t;
    return;
  }
}

const ZERO = 0x30;

/**
 * Writes digits × 10^exp10 in Number::toString's form (ECMA-262 §6.1.6.1.20) into `out` at `at`; the
 * position after it. Positions 10^−7 < |x| < 10^21 are written out, the others with an exponent.
 */
function writeDecimal(out: Uint8Array, at: number, negative: boolean): number {
  let o = at;
  if (negative) out[o++] = 0x2d; // '-'
  let k = digits | 0;
  let p = 1;
  while (p < 9 && k >= POW10[p]!) p++;
  const n = p + exp10;
  // where the digits go: p of them from `start`, with a point after the first `point` when point < p
  let start = o;
  let point = p;
  if (p <= n && n <= 21) {
    o += p;
    for (let i = p; i < n; i++) out[o++] = ZERO;
  } else if (0 < n && n <= 21) {
    point = n;
    o += p + 1;
  } else if (-6 < n && n <= 0) {
    out[o++] = ZERO;
    out[o++] = 0x2e; // '.'
    for (let i = n; i < 0; i++) out[o++] = ZERO;
    start = o;
    o += p;
  } else {
    point = 1;
    o += p > 1 ? p + 1 : 1;
  }
  for (let i = p - 1; i >= 0; i--) {
    const rest = (k / 10) | 0;
    out[start + i + (i >= point ? 1 : 0)] = ZERO + k - rest * 10;
    k = rest;
  }
  if (point < p) out[start + point] = 0x2e;
  if (n <= -6 || n > 21) {
    const x = n - 1 < 0 ? 1 - n : n - 1;
    out[o++] = 0x65; // 'e'
    out[o++] = n - 1 < 0 ? 0x2d : 0x2b;
    if (x >= 10) out[o++] = ZERO + ((x / 10) | 0);
    out[o++] = ZERO + (x % 10);
  }
  return o;
}

const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** Bytes a float32 takes at most as writeFloat32 writes it: '-', nine digits and up to twelve zeros. */
export const FLOAT32_TEXT_BYTES = 22;

/**
 * Writes the float32 with these bits as JSON into `out` at `at`: its shortest decimal, `0` for both
 * zeros and `null` for NaN and ±∞, as JSON.stringify writes those. Returns the position after it.
 */
export function writeFloat32(out: Uint8Array, at: number, bits: number): number {
  const magnitude = bits & 0x7fffffff;
  if (magnitude === 0) {
    out[at] = ZERO;
    return at + 1;
  }
  if (magnitude >= 0x7f800000) {
    for (let i = 0; i < 4; i++) out[at + i] = NULL[i]!;
    return at + 4;
  }
  shortest(magnitude);
  return writeDecimal(out, at, bits !== magnitude);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const scratch = Buffer.alloc(FLOAT32_TEXT_BYTES);

/** The text writeFloat32 writes for the float32 nearest `v`. */
export function float32Text(v: number): string {
  f32[0] = v;
  return scratch.toString('latin1', 0, writeFloat32(scratch, 0, u32[0]!));
}

/**
 * The double nearest the shortest decimal of the float32 nearest `v` (finite), which JSON.stringify
 * prints as that decimal: Number(float32Text(v)) without the text.
 */
export function float32Number(v: number): number {
  f32[0] = v;
  const bits = u32[0]!;
  const magnitude = bits & 0x7fffffff;
  if (magnitude === 0) return 0;
  shortest(magnitude);
  // one correctly rounded operation on exact operands while 10^|exp10| is exact
  const x = exp10 < -22 || exp10 > 22 ? Number(`${digits}e${exp10}`) : exp10 < 0 ? digits / POW10[-exp10]! : digits * POW10[exp10]!;
  return bits === magnitude ? x : -x;
}

/** [digits, exp10] of a positive finite float32's shortest decimal, by either method (for tests). */
export function float32Digits(bits: number, method: 'fast' | 'exact'): [number, number] {
  if (method === 'fast') shortest(bits);
  else shortestExact(bits);
  return [digits, exp10];
}
