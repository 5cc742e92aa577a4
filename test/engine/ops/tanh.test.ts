import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN, tanhF32, tanhGradF32 } from '../../../src/engine/kernels/index.js';
import { tanh } from '../../../src/engine/ops/tanh.js';
import { expectSame, expectSameShape, expectTails, expectUnary, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

describe('tanh', () => {
  it('matches reference values', () => {
    expectUnary(
      tanh,
      [-3, -1, -0.5, 0, 0.5, 1, 3],
      [-0.9950547536867305, -0.7615941559557649, -0.46211715726000974, 0, 0.46211715726000974, 0.7615941559557649, 0.9950547536867305],
    );
  });

  it('keeps the shape', () => {
    expectSameShape(tanh);
  });

  it('has derivative 1 − tanh²(x), matching reference values and finite differences', () => {
    expectSame(localDerivative(tanh, 0), 1);
    expectSame(localDerivative(tanh, 0.5), 0.7864477329659274, 1e-14);
    checkVjp(tanh, [t64([3], [0, -2, 2])]);
    checkVjp(tanh, [rand([3, 4], 1, -4, 4)]);
  });

  it('saturates without overflow at |x| = 1e3', () => {
    expectTails(tanh, [
      [-1000, -1, 0],
      [1000, 1, 0],
    ]);
  });
});

describe('tanh on the WebAssembly SIMD kernel (float32, from 1024 elements)', () => {
  /** |y − tanh(x)| in units in the last place of float32 at tanh(x) */
  function ulpError(y: number, x: number): number {
    const ref = Math.tanh(x);
    const a = Math.abs(Math.fround(ref));
    const ulp = a === 0 ? 2 ** -149 : 2 ** Math.max(Math.floor(Math.log2(a)) - 23, -149);
    return Math.abs(y - ref) / ulp;
  }

  it('is within 1.51 ulp of tanh on float32 bit patterns spread over the whole range', () => {
    // every 4099th pattern: ~1M values, every exponent, both signs, NaNs, ±∞, ±0 (pattern 0 and 2^31)
    const n = Math.ceil(2 ** 32 / 4099);
    const bits = Int32Array.from({ length: n + 1 }, (_, i) => (i === n ? 0x80000000 : i * 4099) | 0);
    const x = new Float32Array(bits.buffer);
    const y = new Float32Array(x.length);
    expect(tanhF32(x, y)).toBe(true);
    let worst = 0;
    const yBits = new Int32Array(y.buffer);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (Number.isNaN(v)) {
        expect(yBits[i]).toBe(bits[i]); // the very NaN, payload and sign
      } else if (v === 0 || !Number.isFinite(v)) {
        expect(Object.is(y[i], Math.tanh(v))).toBe(true); // ±0 keep their sign, ±∞ give ±1
      } else {
        worst = Math.max(worst, ulpError(y[i]!, v));
      }
    }
    expect(worst).toBeLessThanOrEqual(1.51);
    expect(worst).toBeGreaterThan(0.5); // not the exact values: the kernel really ran
  });

  it('covers both of its branches near |x| = 0.55, the saturation at 9, and subnormals', () => {
    const values = [0.5499, 0.55, 0.5501, -0.55, 8.99, 9, 9.01, -9, 20, 1e-40, -1e-45, 1e-20, 2.5e-4, 3];
    const x = new Float32Array(ELEMENTWISE_MIN + 3).map((_, i) => values[i % values.length]!);
    const y = new Float32Array(x.length);
    expect(tanhF32(x, y)).toBe(true);
    for (let i = 0; i < x.length; i++) expect(ulpError(y[i]!, x[i]!)).toBeLessThanOrEqual(1.51);
  });

  it('the op takes the kernel from 1024 float32 elements, and the exact loop below and for float64', () => {
    const values = Array.from({ length: ELEMENTWISE_MIN + 5 }, (_, i) => Math.sin(i) * 4);
    const big = tanh.forward([{ shape: [values.length], data: Float32Array.from(values) }], {});
    const small = tanh.forward([{ shape: [1000], data: Float32Array.from(values.slice(0, 1000)) }], {});
    const wide = tanh.forward([t64([values.length], values)], {});
    let differs = 0;
    for (let i = 0; i < values.length; i++) {
      const x = Math.fround(values[i]!);
      expect(ulpError(big.data[i]!, x)).toBeLessThanOrEqual(1.51);
      if (big.data[i] !== Math.fround(Math.tanh(x))) differs++;
      if (i < 1000) expect(small.data[i]).toBe(Math.fround(Math.tanh(x)));
      expect(wide.data[i]).toBe(Math.tanh(values[i]!));
    }
    expect(differs).toBeGreaterThan(0); // the kernel, not the loop, computed the large one
    expect(tanhF32(new Float32Array(ELEMENTWISE_MIN - 1), new Float32Array(ELEMENTWISE_MIN - 1))).toBe(false);
  });
});

describe("tanh's gradient on the WebAssembly SIMD kernel (float32, from 1024 elements)", () => {
  /** the JS loop's rule: g·(1 − y²) in doubles, stored as float32 */
  const rule = (y: number, g: number) => Math.fround(g * (1 - y * y));
  const sameBits = (a: Float32Array, b: Float32Array) => expect(Array.from(new Int32Array(a.buffer, a.byteOffset, a.length))).toEqual(Array.from(new Int32Array(b.buffer, b.byteOffset, b.length)));
  /** n float32 from a seeded stream of bit patterns (every exponent, NaNs, ±∞, ±0, subnormals) */
  function patterns(n: number, seed: number): Float32Array {
    let s = seed >>> 0;
    return new Float32Array(Int32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) | 0).buffer);
  }

  it('gives every element the bits of g·(1 − y²) computed in float64, at any length from 1024', () => {
    for (const n of [1024, 1025, 1026, 1027, 8191, 8192, 8193, 3 * 8192 + 5]) {
      // outputs in [−1, 1] as tanh gives them, with the bit patterns of g and a few special values
      const y = Float32Array.from({ length: n }, (_, i) => Math.tanh(Math.sin(i * 0.37) * 5));
      const special = [0, -0, 1, -1, Number.NaN, 1e-40, -1e-45, 0.99999994];
      special.forEach((v, i) => (y[(i * 131) % n] = v));
      const g = patterns(n, n);
      g[3] = Number.POSITIVE_INFINITY; // ∞·(1 − 1) is NaN, as in the loop
      y[3] = 1;
      const gx = new Float32Array(n).fill(123);
      expect(tanhGradF32(y, g, gx)).toBe(true);
      const want = Float32Array.from(y, (v, i) => rule(v, g[i]!));
      // NaNs compare by being NaN (their payloads are the hardware's), then are set aside
      for (let i = 0; i < n; i++) {
        if (!Number.isNaN(want[i]!)) continue;
        expect(Number.isNaN(gx[i]!)).toBe(true);
        gx[i] = want[i] = 0;
      }
      sameBits(gx, want);
    }
  });

  it('rounds once, from the double: products that a float32 y·y would round differently', () => {
    // y = 1 − 2^−24·k: 1 − y² needs more than float32's 24 bits; g = 3 makes the final rounding matter
    const n = ELEMENTWISE_MIN;
    const y = Float32Array.from({ length: n }, (_, i) => 1 - (i + 1) * 2 ** -24);
    const g = new Float32Array(n).fill(3);
    const gx = new Float32Array(n);
    expect(tanhGradF32(y, g, gx)).toBe(true);
    let float32Differs = 0;
    for (let i = 0; i < n; i++) {
      expect(gx[i]).toBe(rule(y[i]!, 3));
      const f = Math.fround;
      if (f(3 * f(1 - f(y[i]! * y[i]!))) !== gx[i]) float32Differs++;
    }
    expect(float32Differs).toBeGreaterThan(0); // a float32 kernel would fail the test above
  });

  it('reads views at an offset and declines below 1024 elements', () => {
    const y = Float32Array.from({ length: 3000 }, (_, i) => Math.tanh(Math.cos(i)));
    const g = patterns(3000, 7);
    const gx = new Float32Array(2000);
    expect(tanhGradF32(y.subarray(5, 2005), g.subarray(9, 2009), gx)).toBe(true);
    for (let i = 0; i < 2000; i++) if (!Number.isNaN(gx[i]!)) expect(gx[i]).toBe(rule(y[i + 5]!, g[i + 9]!));
    const few = new Float32Array(ELEMENTWISE_MIN - 1);
    expect(tanhGradF32(few, few, few.slice())).toBe(false);
  });

  it("the op's VJP gives the same bits on the kernel (≥ 1024 elements) as on its JS loop (below)", () => {
    const n = 4096 + 11;
    const x = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3) };
    const y = tanh.forward([x], {});
    const g = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3) * 7) };
    const [whole] = tanh.vjp([x], y, g, {});
    for (let s = 0; s < n; s += 1000) {
      const e = Math.min(n, s + 1000); // under the threshold: the JS loop
      const part = (t: { data: Float32Array }) => ({ shape: [e - s], data: t.data.subarray(s, e) });
      const [gx] = tanh.vjp([part(x)], part(y as { data: Float32Array }), part(g), {});
      sameBits(gx!.data as Float32Array, whole!.data.subarray(s, e) as Float32Array);
    }
  });
});
