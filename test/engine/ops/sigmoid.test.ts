import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN, sigmoidF32 } from '../../../src/engine/kernels/index.js';
import { sigmoid as logistic } from '../../../src/engine/math/logistic.js';
import { sigmoid } from '../../../src/engine/ops/sigmoid.js';
import { expectSame, expectSameShape, expectTails, expectUnary, expectKernelFrom, float32Patterns, float32Ulps, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

describe('sigmoid', () => {
  it('matches 1/(1 + e⁻ˣ) (reference values from 40-digit arithmetic)', () => {
    expectUnary(
      sigmoid,
      [-3, -1, -0.5, 0, 0.5, 1, 3],
      [0.04742587317756678, 0.2689414213699951, 0.37754066879814546, 0.5, 0.6224593312018546, 0.7310585786300049, 0.9525741268224333],
    );
  });

  it('keeps the shape', () => {
    expectSameShape(sigmoid);
  });

  it('has derivative σ(x)·(1 − σ(x)), matching reference values and finite differences', () => {
    expectSame(localDerivative(sigmoid, 0), 0.25);
    expectSame(localDerivative(sigmoid, 1), 0.19661193324148185, 1e-14);
    checkVjp(sigmoid, [t64([3], [0, -2, 2])]);
    checkVjp(sigmoid, [rand([3, 4], 1, -6, 6)]);
  });

  it('keeps tiny values in the negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(sigmoid, [
      [-30, 9.357622968839299e-14, 9.357622968838423e-14],
      [-700, 9.85967654375977e-305, 9.85967654375977e-305],
      [-1000, 0, 0],
      [1000, 1, 0],
    ]);
  });
});

describe('sigmoid on the WebAssembly SIMD kernel (float32, from 1024 elements)', () => {
  // Measured over every float32 bit pattern: at most 2.402 ulp (at x = −4.157; for x < 0, t/(1 + t) adds
  // its roundings to exp's).
  const BOUND = 2.41;
  const ulpError = (y: number, x: number): number => float32Ulps(y, logistic(x));

  it('is within 2.41 ulp of σ on float32 bit patterns spread over the whole range', () => {
    const x = float32Patterns(4099);
    const bits = new Int32Array(x.buffer);
    const y = new Float32Array(x.length);
    expect(sigmoidF32(x, y)).toBe(true);
    const yBits = new Int32Array(y.buffer);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (Number.isNaN(v)) expect(yBits[i]).toBe(bits[i]); // the very NaN
      else if (!Number.isFinite(v)) expect(y[i]).toBe(v > 0 ? 1 : 0);
      else worst = Math.max(worst, ulpError(y[i]!, v));
    }
    expect(worst).toBeLessThanOrEqual(BOUND);
    expect(worst).toBeGreaterThan(0.5); // not the exact values: the kernel really ran
  });

  it('keeps tiny values down into the subnormals, and rounds to 0 and 1 where σ does', () => {
    // −87.3 is where σ leaves the normal range; −103.97 where it rounds to 0; 105 is the clamp
    const values = [0, -0, 1e-40, -1e-45, 17, 16.7, -16.7, -87, -87.4, -90, -100, -103.9, -104, -104.1, -105, -106, -200, 88, 105, 200];
    const x = new Float32Array(ELEMENTWISE_MIN + 3).map((_, i) => values[i % values.length]!);
    const y = new Float32Array(x.length);
    expect(sigmoidF32(x, y)).toBe(true);
    for (let i = 0; i < x.length; i++) expect(ulpError(y[i]!, x[i]!), `x = ${x[i]}`).toBeLessThanOrEqual(BOUND);
  });

  it('the op takes the kernel from 1024 float32 elements, and the exact loop below and for float64', () => {
    expectKernelFrom(sigmoid, logistic, BOUND, ELEMENTWISE_MIN, 8);
    expect(sigmoidF32(new Float32Array(ELEMENTWISE_MIN - 1), new Float32Array(ELEMENTWISE_MIN - 1))).toBe(false);
  });
});
