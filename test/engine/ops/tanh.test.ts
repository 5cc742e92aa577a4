import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN, tanhF32 } from '../../../src/engine/kernels/index.js';
import { tanh } from '../../../src/engine/ops/tanh.js';
import { expectSame, expectSameShape, expectTails, expectUnary, expectKernelFrom, float32Patterns, float32Ulps, localDerivative } from '../../helpers/elementwise.js';
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
  const ulpError = (y: number, x: number): number => float32Ulps(y, Math.tanh(x));

  it('is within 1.51 ulp of tanh on float32 bit patterns spread over the whole range', () => {
    // every 4099th pattern: ~1M values, every exponent, both signs, NaNs, ±∞, ±0 (pattern 0 and 2^31)
    const x = float32Patterns(4099);
    const bits = new Int32Array(x.buffer);
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
    expectKernelFrom(tanh, Math.tanh, 1.51, ELEMENTWISE_MIN, 4);
    expect(tanhF32(new Float32Array(ELEMENTWISE_MIN - 1), new Float32Array(ELEMENTWISE_MIN - 1))).toBe(false);
  });
});
