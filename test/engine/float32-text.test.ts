import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { float32Digits, float32Number, float32Text, FLOAT32_TEXT_BYTES, writeFloat32 } from '../../src/engine/float32-text.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (bits: number): number => ((u32[0] = bits), f32[0]!);
const bitsOf = (v: number): number => ((f32[0] = v), u32[0]!);
const reads = (s: string, v: number): boolean => Math.fround(Number(s)) === v;

/** The exact value of a finite double as a fraction of BigInts. */
function rational(x: number): [bigint, bigint] {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, Math.abs(x));
  const hi = b.getUint32(0);
  const exp = (hi >>> 20) & 0x7ff;
  const mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(b.getUint32(4));
  const m = exp === 0 ? mant : mant | (1n << 52n);
  const e = (exp === 0 ? 1 : exp) - 1075;
  const sign = x < 0 ? -1n : 1n;
  return e >= 0 ? [sign * (m << BigInt(e)), 1n] : [sign * m, 1n << BigInt(-e)];
}

/** A decimal text as a fraction of BigInts. */
function decimal(s: string): [bigint, bigint] {
  const [mant, exp = '0'] = s.split('e');
  const [int, frac = ''] = mant!.split('.');
  const e = Number(exp) - frac.length;
  const n = BigInt(int! + frac);
  return e >= 0 ? [n * 10n ** BigInt(e), 1n] : [n, 10n ** BigInt(-e)];
}

/** The sign of |a − v| − |b − v|, exactly. */
function nearer(a: string, b: string, v: number): number {
  const [vn, vd] = rational(v);
  const dist = (s: string) => {
    const [n, d] = decimal(s);
    const x = n * vd - vn * d;
    return [x < 0n ? -x : x, d * vd] as const;
  };
  const [an, ad] = dist(a);
  const [bn, bd] = dist(b);
  const c = an * bd - bn * ad;
  return c < 0n ? -1 : c > 0n ? 1 : 0;
}

/** The two decimals of p significant digits nearest v, below and above it (exponent form). */
function candidates(v: number, p: number): string[] {
  const sign = v < 0 ? '-' : '';
  const e = Number(Math.abs(v).toExponential().split('e')[1]) - p + 1;
  const [vn, vd] = rational(Math.abs(v));
  const [un, ud] = decimal(`1e${e}`);
  const k = (vn * ud) / (vd * un);
  return [`${sign}${k}e${e}`, `${sign}${k + 1n}e${e}`];
}

/** The significant digits of a decimal text. */
const significant = (s: string): string => s.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');

/** Every property asked of the text of a finite float32 v. */
function checkText(v: number): void {
  const s = float32Text(v);
  expect(reads(s, v), `${v} → ${s} reads back`).toBe(true);
  expect(String(Number(s)), 'in Number::toString form').toBe(v === 0 ? '0' : s);
  expect(float32Number(v), 'the number JSON.stringify prints as it').toBe(Number(s));
  if (v === 0) return;
  const p = significant(s).length;
  // shortest: no decimal of fewer digits reads back as v
  if (p > 1) for (const c of candidates(v, p - 1)) expect(reads(c, v), `${c} has fewer digits than ${s} and reads back as ${v}`).toBe(false);
  // nearest of its length, the even one of two as near
  for (const c of candidates(v, p)) {
    if (c === s || Number(c) === Number(s) || !reads(c, v)) continue;
    const cmp = nearer(s, c, v);
    expect(cmp <= 0, `${c} is nearer to ${v} than ${s}`).toBe(true);
    if (cmp === 0) expect(Number(significant(s).slice(-1)) % 2, `${s} and ${c} are as near: the even one`).toBe(0);
  }
  expect(float32Digits(bitsOf(Math.abs(v)), 'fast')).toEqual(float32Digits(bitsOf(Math.abs(v)), 'exact'));
}

const finite = (bits: number) => (bits & 0x7f800000) !== 0x7f800000;

describe('float32Text: the shortest decimal that reads back as the same float32', () => {
  it('prints known values as numpy and torch do, in JavaScript\'s number form', () => {
    const known: [number, string][] = [
      [0.1, '0.1'],
      [0.4, '0.4'],
      [-0.4, '-0.4'],
      [1 / 3, '0.33333334'],
      [1, '1'],
      [100, '100'],
      [1e-45, '1e-45'], // the least subnormal, 2^-149
      [fromBits(0x007fffff), '1.1754942e-38'], // the greatest subnormal
      [fromBits(0x00800000), '1.1754944e-38'], // the least normal
      [fromBits(0x00000003), '4e-45'],
      [3.4028235e38, '3.4028235e+38'], // the greatest float32
      [16777216, '16777216'],
      [16777217, '16777216'], // rounds to 2^24
      [123456789, '123456790'],
      [2097152.25, '2097152.2'], // between 2097152.2 and .3, exactly: the even one
      [2097152.75, '2097152.8'],
      [-6651.65625, '-6651.6562'],
      [1e21, '1e+21'],
      [1e20, '100000000000000000000'],
      [1.5e-6, '0.0000015'],
      [1e-7, '1e-7'],
      [Math.PI, '3.1415927'],
      [0, '0'],
      [-0, '0'], // as JSON.stringify writes a float64 −0
    ];
    for (const [v, text] of known) {
      expect(float32Text(v), String(v)).toBe(text);
      checkText(Math.fround(v));
    }
  });

  it('writes null for NaN and ±∞ (as JSON.stringify does), never more than FLOAT32_TEXT_BYTES bytes, at any offset', () => {
    const out = Buffer.alloc(64, 0x2a);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(out.toString('latin1', 5, writeFloat32(out, 5, bitsOf(v)))).toBe('null');
    }
    for (const v of [-1.1754942e-38, -1.2345678e20, -0.0000012345678, -1e-45]) {
      out.fill(0x2a);
      const end = writeFloat32(out, 3, bitsOf(v));
      expect(end - 3).toBeLessThanOrEqual(FLOAT32_TEXT_BYTES);
      expect(out.toString('latin1', 3, end)).toBe(float32Text(v));
      expect(out[2]).toBe(0x2a);
      expect(out[end]).toBe(0x2a);
    }
    expect(float32Text(-1.2345678e20)).toHaveLength(FLOAT32_TEXT_BYTES);
  });

  it('over all float32 bit patterns: reads back, shortest, nearest, and both methods agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }).filter(finite), (bits) => checkText(fromBits(bits))),
      { numRuns: 20_000 },
    );
  });

  it('at the patterns where rounding is delicate: powers of two, binade ends, subnormals, halves and quarters', () => {
    const exponent = fc.integer({ min: 0, max: 254 });
    const patterns = fc.oneof(
      exponent.map((b) => b << 23), // powers of two: the gap below is half the gap above
      exponent.map((b) => (b << 23) | 0x7fffff),
      exponent.map((b) => (b << 23) | 1),
      fc.integer({ min: 1, max: 0x7fffff }), // subnormals
      fc.integer({ min: 1, max: 2 ** 22 }).map((n) => bitsOf(n + 0.25)), // the ties of 2097152.25
      fc.integer({ min: 1, max: 2 ** 20 }).map((n) => bitsOf(n / 8)),
    );
    fc.assert(
      fc.property(patterns, fc.boolean(), (bits, negative) => checkText(fromBits(negative ? (bits | 0x80000000) >>> 0 : bits))),
      { numRuns: 20_000 },
    );
  });

  it('at every power of two, whose rounding interval is lopsided, and its neighbours', () => {
    for (let exponent = 1; exponent < 255; exponent++) {
      for (const bits of [exponent << 23, (exponent << 23) - 1, (exponent << 23) + 1]) checkText(fromBits(bits));
    }
  });

  const numpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  it.skipIf(numpy.status !== 0)('prints the same decimals as numpy (Debian python3-numpy)', () => {
    const bits = fc.sample(fc.integer({ min: 0, max: 2 ** 32 - 1 }).filter(finite), { numRuns: 20_000, seed: 16 });
    bits.push(0x3dcccccd, 0x00000001, 0x007fffff, 0x7f7fffff, 0x4a000001);
    const script = 'import sys, numpy as np\nb = np.array([int(x) for x in sys.stdin.read().split()], dtype=np.uint32)\nprint("\\n".join(repr(x) for x in b.view(np.float32)))';
    const r = spawnSync('/usr/bin/python3', ['-c', script], { input: bits.join(' '), encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(r.status, r.stderr).toBe(0);
    const theirs = r.stdout.trim().split('\n').map((line) => line.replace(/^np\.float32\((.*)\)$/, '$1'));
    expect(theirs).toHaveLength(bits.length);
    // two texts of at most nine digits are the same decimal exactly when they parse to the same double
    bits.forEach((b, i) => expect(Number(float32Text(fromBits(b))) === Number(theirs[i]), `${float32Text(fromBits(b))}, numpy ${theirs[i]}`).toBe(true));
  });
});
