import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN, siluF32, siluGradF32 } from '../../../src/engine/kernels/index.js';
import { sigmoid as logistic } from '../../../src/engine/math/logistic.js';
import { silu } from '../../../src/engine/ops/silu.js';
import {
  expectKernelFrom,
  expectSame,
  expectSameShape,
  expectTails,
  expectUnary,
  float32Patterns,
  float32Ulp,
  float32Ulps,
  localDerivative,
} from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('silu', () => {
  it('matches x·σ(x) (reference values from 40-digit arithmetic)', () => {
    expectUnary(silu, XS, [
      -0.14227761953270035, -0.2689414213699951, -0.18877033439907273, 0, 0.3112296656009273, 0.7310585786300049,
      2.8577223804672998,
    ]);
  });

  it('keeps the shape', () => {
    expectSameShape(silu);
  });

  it('has derivative σ(x)·(1 + x·(1 − σ(x))), matching reference values and finite differences', () => {
    const expected = [
      -0.08810410601516962, 0.07232948812851327, 0.2600388126973482, 0.5, 0.7399611873026518, 0.9276705118714867,
      1.0881041060151697,
    ];
    XS.forEach((x, i) => expectSame(localDerivative(silu, x), expected[i]!, 1e-14));
    checkVjp(silu, [t64([XS.length], XS)]);
    checkVjp(silu, [rand([3, 4], 1, -6, 6)]);
  });

  it('keeps its negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(silu, [
      [-10, -0.00045397868702434395, -0.0004085602086570823],
      [-30, -2.8072868906517896e-12, -2.713710660963134e-12],
      [-1000, 0, 0],
      [1000, 1000, 1],
    ]);
  });
});

describe('silu on the WebAssembly SIMD kernel (float32, from 1024 elements)', () => {
  // Measured over every float32 bit pattern (all 2^32, once): the value within 3.394 ulp of x·σ(x), the
  // gradient within 4.541 ulp of the larger of its two terms σ(x) and σ(x)·x·(1 − σ(x)) (they cancel near
  // x = −1.28, where a bound relative to the gradient itself cannot hold). Past |x| = 80, the JS rule.
  const BOUND = 3.4;
  const GRAD_BOUND = 4.55;
  const value = (x: number) => x * logistic(x);
  const gradient = (x: number) => {
    const s = logistic(x);
    return { exact: s * (1 + x * (1 - s)), scale: Math.max(s, Math.abs(s * x * (1 - s))) };
  };
  /** the value and the gradient (upstream 1) through the kernels */
  function run(x: Float32Array): { y: Float32Array; gx: Float32Array } {
    const y = new Float32Array(x.length);
    const gx = new Float32Array(x.length);
    expect(siluF32(x, y)).toBe(true);
    expect(siluGradF32(x, new Float32Array(x.length).fill(1), gx)).toBe(true);
    return { y, gx };
  }
  function expectWithin(x: Float32Array, y: Float32Array, gx: Float32Array): { worst: number; worstGrad: number } {
    let worst = 0;
    let worstGrad = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (Number.isNaN(v)) {
        expect(Number.isNaN(y[i]!) && Number.isNaN(gx[i]!)).toBe(true);
      } else if (!(Math.abs(v) <= 80)) {
        expect(y[i], `x = ${v}`).toBe(Math.fround(value(v))); // the JS rule, ±∞ included
        expect(gx[i], `x = ${v}`).toBe(Math.fround(gradient(v).exact));
      } else {
        worst = Math.max(worst, float32Ulps(y[i]!, value(v)));
        const { exact, scale } = gradient(v);
        worstGrad = Math.max(worstGrad, Math.abs(gx[i]! - exact) / float32Ulp(scale));
      }
    }
    expect(worst).toBeLessThanOrEqual(BOUND);
    expect(worstGrad).toBeLessThanOrEqual(GRAD_BOUND);
    return { worst, worstGrad };
  }

  it('is within its bounds on float32 bit patterns spread over the whole range, the JS rule past |x| = 80', () => {
    const x = float32Patterns(4099);
    const bits = new Int32Array(x.buffer);
    const { y, gx } = run(x);
    const { worst, worstGrad } = expectWithin(x, y, gx);
    expect(worst).toBeGreaterThan(0.5); // not the exact values: the kernel really ran
    expect(worstGrad).toBeGreaterThan(0.5);
    const yBits = new Int32Array(y.buffer);
    x.forEach((v, i) => Number.isNaN(v) && expect(yBits[i]).toBe(bits[i])); // the very NaN
  });

  it('covers the zero of the gradient, the edge at |x| = 80 in both directions, chunks only just past it and none past it', () => {
    const values = [-1.2785, -1.27846454, -1.3, 0, -0, 79.99, 80, 80.01, -79.99, -80, -80.01, -87.5, -104, -120, 1e30, -1e30, 1e-40];
    const x = new Float32Array(ELEMENTWISE_MIN + 3).map((_, i) => values[i % values.length]!);
    const edges = run(x);
    expectWithin(x, edges.y, edges.gx);
    // only values just past 80 (and none past 105, sigmoid's clamp): each must still take the JS rule
    const beyond = Float32Array.from({ length: ELEMENTWISE_MIN + 3 }, (_, i) => (i % 2 ? 1 : -1) * (80.5 + (i % 97) * 0.25));
    const past = run(beyond);
    expectWithin(beyond, past.y, past.gx);
    const calm = Float32Array.from({ length: 3 * 8192 + 1 }, (_, i) => Math.sin(i) * 6);
    const inside = run(calm);
    expectWithin(calm, inside.y, inside.gx);
  });

  it('the op takes the kernels from 1024 float32 elements, and the exact loops below and for float64', () => {
    expectKernelFrom(silu, value, BOUND, ELEMENTWISE_MIN, 6);
    const few = new Float32Array(ELEMENTWISE_MIN - 1);
    expect(siluF32(few, few.slice())).toBe(false);
    expect(siluGradF32(few, few, few.slice())).toBe(false);
  });
});
