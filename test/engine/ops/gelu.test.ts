import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN } from '../../../src/engine/kernels/index.js';
import { erfc, erfcF32 } from '../../../src/engine/math/erf.js';
import { gelu } from '../../../src/engine/ops/gelu.js';
import { expectKernelFrom, expectSame, expectSameShape, expectTails, expectUnary, float32Patterns, float32Ulps, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

describe('gelu', () => {
  it('matches x·Φ(x) (reference values from 40-digit arithmetic; PyTorch gives gelu(1) = 0.8413447460685429)', () => {
    expectUnary(gelu, XS, [
      -0.0040496940948902835, -0.15865525393145705, -0.15426876936299344, 0, 0.34573123063700656, 0.8413447460685429,
      2.99595030590511,
    ]);
  });

  it('keeps the shape', () => {
    expectSameShape(gelu);
  });

  it('has derivative Φ(x) + x·φ(x), matching reference values and finite differences', () => {
    const expected = [
      -0.011945647204183927, -0.0833154705876863, 0.13250487534383715, 0.5, 0.8674951246561629, 1.0833154705876864,
      1.011945647204184,
    ];
    XS.forEach((x, i) => expectSame(localDerivative(gelu, x), expected[i]!, 1e-14));
    checkVjp(gelu, [t64([XS.length], XS)]);
    checkVjp(gelu, [rand([3, 4], 1, -4, 4)]);
  });

  it('keeps full relative precision in the negative tail and does not overflow at |x| = 1e3', () => {
    expectTails(gelu, [
      [-5, -1.4332578593959695e-6, -7.146946001792295e-6],
      [-10, -7.619853024160526e-23, -7.618400096464814e-22],
      [-30, -1.472014178144456e-196, -4.416031690708495e-195],
      [-1000, 0, 0],
      [10, 10, 1],
      [1000, 1000, 1],
    ]);
  });

  it('float32 from 1024 elements: within 2.5 ulp of x·Φ(x), its gradient within 2.5 ulp of its larger term', () => {
    expectKernelFrom(gelu, (x) => 0.5 * x * erfc(-x * Math.SQRT1_2), 2.5, ELEMENTWISE_MIN, 6);
    const n = ELEMENTWISE_MIN + 5;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 6);
    const attrs = gelu.parseAttrs({});
    const [gx] = gelu.vjp([{ shape: [n], data: x }], gelu.forward([{ shape: [n], data: x }], attrs), { shape: [n], data: new Float32Array(n).fill(1) }, attrs);
    expect(gx!.data).toBeInstanceOf(Float32Array);
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const [cdf, pdf] = [0.5 * erfc(-v * Math.SQRT1_2), (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)];
      const err = float32Ulps(gx!.data[i]!, cdf + pdf) * (Math.abs(cdf + pdf) / Math.max(Math.abs(cdf), Math.abs(pdf)));
      expect(err, `x = ${v}`).toBeLessThanOrEqual(2.5);
    }
  });

  it('float32: the SIMD kernel gives the float32 rule (erfcF32 in float64) over bit patterns of every exponent, NaN, ±∞ and |x| > 38 included', () => {
    const x = float32Patterns(4099);
    const n = x.length;
    const attrs = gelu.parseAttrs({});
    const y = gelu.forward([{ shape: [n], data: x }], attrs);
    const g = Float32Array.from({ length: n }, (_, i) => 1 + (i % 7) / 8);
    const [gx] = gelu.vjp([{ shape: [n], data: x }], y, { shape: [n], data: g }, attrs);
    let [worst, inKernel, nanMismatch] = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const f = 0.5 * v * erfcF32(-v * Math.SQRT1_2);
      const df = g[i]! * (0.5 * erfcF32(-v * Math.SQRT1_2) + v * 0.3989422804014327 * Math.exp(-0.5 * v * v));
      if (Math.abs(v) <= 38) inKernel++;
      for (const [ours, rule] of [[y.data[i]!, f], [gx!.data[i]!, df]] as const) {
        if (Number.isNaN(rule) || Number.isNaN(ours)) nanMismatch += +(Number.isNaN(rule) !== Number.isNaN(ours));
        else worst = Math.max(worst, float32Ulps(ours, Math.fround(rule)));
      }
    }
    expect(nanMismatch).toBe(0);
    expect(worst).toBeLessThanOrEqual(1);
    expect(inKernel).toBeGreaterThan(n / 3);
  });
});
