import { describe, expect, it } from 'vitest';
import { recycling } from '../../../src/engine/buffers.js';
import { ELEMENTWISE_MIN } from '../../../src/engine/kernels/index.js';
import { erfc } from '../../../src/engine/math/erf.js';
import { GELU_F32_RANGE, geluF32Rule, geluGradF32Rule } from '../../../src/engine/math/gelu-f32.js';
import { gelu } from '../../../src/engine/ops/gelu.js';
import { expectKernelFrom, expectSame, expectSameShape, expectTails, expectUnary, float32Patterns, float32Ulp, float32Ulps, localDerivative } from '../../helpers/elementwise.js';
import { checkVjp, rand, t64 } from '../../helpers/op-check.js';
import { emptyData } from '../../../src/engine/tensor.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

const XS = [-3, -1, -0.5, 0, 0.5, 1, 3];

// the float32 bound (src/engine/math/gelu-f32.ts): relative, down to the subnormals
const ULPS = 5;
const exact = (x: number): number => 0.5 * x * erfc(-x * Math.SQRT1_2);
const dexact = (x: number): number => 0.5 * erfc(-x * Math.SQRT1_2) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);

/** gelu and its vjp on float32 x, g (from ELEMENTWISE_MIN elements: the kernel or the float32 rule) */
function run(x: Float32Array, g: Float32Array): [Float32Array, Float32Array] {
  const attrs = gelu.parseAttrs({});
  const input = { shape: [x.length], data: x };
  const y = gelu.forward([input], attrs);
  const [gx] = gelu.vjp([input], y, { shape: [x.length], data: g }, attrs);
  return [y.data as Float32Array, gx!.data as Float32Array];
}

/** |gx − gelu′(x)| in float32 ulps of the larger of its terms Φ(x) and x·φ(x) (they cancel near x = −0.75) */
function gradUlps(gx: number, x: number): number {
  const [cdf, pdf] = [0.5 * erfc(-x * Math.SQRT1_2), (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)];
  return float32Ulps(gx, cdf + pdf) * (float32Ulp(cdf + pdf) / float32Ulp(Math.max(Math.abs(cdf), Math.abs(pdf))));
}

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

  it(`float32 from 1024 elements: within ${ULPS} ulp of x·Φ(x), its gradient within ${ULPS} ulp of its larger term`, () => {
    expectKernelFrom(gelu, exact, ULPS, ELEMENTWISE_MIN, 6);
    const n = ELEMENTWISE_MIN + 5;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 6);
    const [, gx] = run(x, new Float32Array(n).fill(1));
    expect(gx).toBeInstanceOf(Float32Array);
    for (let i = 0; i < n; i++) expect(gradUlps(gx[i]!, x[i]!), `x = ${x[i]}`).toBeLessThanOrEqual(ULPS);
  });

  it(`float32: within ${ULPS} ulp (gradient: of its larger term) at every 2053rd float32 of |x| ≤ 16, subnormal results and the negative tail included`, () => {
    // bit patterns 0 … 0x41800000 (16) of both signs: every exponent, the tail where 1 + erf would cancel
    const top = 0x41800000;
    const bits = Int32Array.from({ length: 2 * Math.ceil(top / 2053) }, (_, i) => ((i >> 1) * 2053) | (i & 1 ? 0x80000000 : 0));
    const x = new Float32Array(bits.buffer);
    const [y, gx] = run(x, new Float32Array(x.length).fill(1));
    let [worst, worstGrad] = [0, 0];
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, float32Ulps(y[i]!, exact(x[i]!)));
      worstGrad = Math.max(worstGrad, gradUlps(gx[i]!, x[i]!));
    }
    expect(worst).toBeLessThanOrEqual(ULPS);
    expect(worstGrad).toBeLessThanOrEqual(ULPS);
  });

  it('float32: the SIMD kernel gives the float32 rule bit for bit over bit patterns of every exponent; NaN, ±∞ and |x| > GELU_F32_RANGE as the float64 rule', () => {
    const x = float32Patterns(4099);
    const n = x.length;
    const g = Float32Array.from({ length: n }, (_, i) => 1 + (i % 7) / 8);
    const [y, gx] = run(x, g);
    let [mismatches, inKernel] = [0, 0];
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const inRange = Math.abs(v) <= GELU_F32_RANGE;
      if (inRange) inKernel++;
      const f = inRange ? geluF32Rule(v) : Math.fround(exact(v));
      const df = inRange ? geluGradF32Rule(v, g[i]!) : Math.fround(g[i]! * dexact(v));
      if (!Object.is(y[i], f) || !Object.is(gx[i], df)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(inKernel).toBeGreaterThan(n / 3);
    // the limits past the range, as the float64 rule and PyTorch
    const [yInf, gInf] = run(Float32Array.from({ length: ELEMENTWISE_MIN }, (_, i) => [-Infinity, Infinity, -20, 20][i % 4]!), new Float32Array(ELEMENTWISE_MIN).fill(1));
    expect([...yInf.subarray(0, 4)]).toEqual([NaN, Infinity, -0, 20]);
    expect([...gInf.subarray(0, 4)]).toEqual([NaN, NaN, -0, 1]);
  });

  it("float32: the forward pass keeps gelu′(x) for its own output's backward pass, with the bits of evaluating it again; another output, another x, a second backward pass or a later recycling call evaluate it again", () => {
    const x = float32Patterns(1_000_003);
    const n = x.length;
    const g = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => 1 + (i % 7) / 8) };
    const attrs = gelu.parseAttrs({});
    const input = { shape: [n], data: x };
    /** the gradient at x as the float32 rule gives it, NaNs compared by being NaN */
    const expectGrad = (gx: Float32Array, at: Float32Array): void => {
      const want = Float32Array.from(at, (v, i) => (Math.abs(v) <= GELU_F32_RANGE ? geluGradF32Rule(v, g.data[i]!) : Math.fround(g.data[i]! * dexact(v))));
      expect(gx.every((v, i) => Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i]!)))).toBe(true);
    };
    const grad = (ins: Float32Array, out: { shape: number[]; data: Float32Array }) => gelu.vjp([{ shape: [n], data: ins }], out, g, attrs)[0]!.data as Float32Array;
    const y = gelu.forward([input], attrs) as { shape: number[]; data: Float32Array };
    // y given with another x: that x's gradient
    const other = Float32Array.from(x, (v) => (Number.isFinite(v) ? -v : v));
    expectGrad(grad(other, y), other);
    expectGrad(grad(x, { shape: y.shape, data: y.data.slice() }), x);
    // its own backward pass, then a second one (the first wrote its gradient over what was kept)
    expectGrad(grad(x, y), x);
    expectGrad(grad(x, y), x);
    // kept inside one recycling call, its memory handed out again by the next: not read after
    const y2 = recycling(() => gelu.forward([input], attrs)) as { shape: number[]; data: Float32Array };
    recycling(() => {
      for (let k = 0; k < 4; k++) emptyData(n, 'float32').fill(7);
    });
    expectGrad(recycling(() => grad(x, y2)), x);
  });
});
