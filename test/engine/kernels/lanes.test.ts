import { describe, expect, it } from 'vitest';
import {
  ELEMENTWISE_MIN,
  leakyReluF32,
  leakyReluGradF32,
  sigmoidGradF32,
  tanhGradF32,
} from '../../../src/engine/kernels/index.js';
import { leakyRelu } from '../../../src/engine/ops/leaky-relu.js';
import { sigmoid } from '../../../src/engine/ops/sigmoid.js';
import { tanh } from '../../../src/engine/ops/tanh.js';
import type { Op } from '../../../src/engine/op.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

ensureWasmBuilt();

// The kernels of src/engine/kernels/wasm/assembly/lanes.ts evaluate in float64 lanes and round once,
// so they must give the JS loops' bits: each is checked against its JS rule, element by element.

const f = Math.fround;
/** a Float32Array from a seeded stream of bit patterns: every exponent, NaNs, ±∞, ±0, subnormals */
function patterns(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(Int32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) | 0).buffer);
}
/** `values` written over `a` here and there, and over its last elements (the kernels' scalar tail) */
function sprinkle(a: Float32Array, values: number[]): Float32Array {
  values.forEach((v, i) => (a[(i * 131) % a.length] = v));
  for (let i = 1; i <= 3; i++) a[a.length - i] = values[i % values.length]!;
  return a;
}
/** outputs of tanh or sigmoid as they come: in [lo, 1], with the edges and specials */
function outputs(n: number, lo: number): Float32Array {
  const y = Float32Array.from({ length: n }, (_, i) => lo + ((1 - lo) * (1 + Math.sin(i * 0.37))) / 2);
  return sprinkle(y, [0, -0, 1, lo, Number.NaN, 1e-40, -1e-45, 0.99999994, 1 - 2 ** -24]);
}
/** inputs of leaky_relu: bit patterns, with zeros of both signs, infinities, NaN and subnormals */
const inputs = (n: number, seed: number): Float32Array =>
  sprinkle(patterns(n, seed), [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e-40, -1e-45, 1, -1]);
/** same bits, NaNs compared by being NaN (their payloads are the hardware's) */
function expectBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const g = new Int32Array(got.buffer, got.byteOffset, got.length);
  const w = new Int32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(want[i]!)) expect(Number.isNaN(got[i]!), `element ${i}`).toBe(true);
    else if (g[i] !== w[i]) expect(got[i], `element ${i}`).toBe(want[i]);
  }
}

const LENGTHS = [1024, 1025, 1026, 1027, 8191, 8192, 8193, 3 * 8192 + 5];
const SLOPES = [0.01, 0.1, 0.2, -0.5, 0, 1e-30, 3e38];

interface Case {
  name: string;
  /** the kernel: out from its two inputs */
  run(u: Float32Array, g: Float32Array, out: Float32Array, slope: number): boolean;
  /** the JS rule for one element (in doubles, rounded once) */
  rule(u: number, g: number, slope: number): number;
  /** the same with every operation rounded to float32: what a float32 kernel would give */
  rule32(u: number, g: number, slope: number): number;
  /** the first input: an output y, or an input x */
  first(n: number): Float32Array;
  slopes: number[];
}

const CASES: Case[] = [
  {
    name: "tanh's gradient",
    run: (y, g, gx) => tanhGradF32(y, g, gx),
    rule: (y, g) => f(g * (1 - y * y)),
    rule32: (y, g) => f(g * f(1 - f(y * y))),
    first: (n) => outputs(n, -1),
    slopes: [0],
  },
  {
    name: "sigmoid's gradient",
    run: (y, g, gx) => sigmoidGradF32(y, g, gx),
    rule: (y, g) => f(g * (y * (1 - y))),
    rule32: (y, g) => f(g * f(y * f(1 - y))),
    first: (n) => outputs(n, 0),
    slopes: [0],
  },
  {
    name: 'leaky_relu',
    run: (x, _g, y, slope) => leakyReluF32(x, y, slope),
    rule: (x, _g, slope) => f(x > 0 ? x : slope * x),
    rule32: (x, _g, slope) => (x > 0 ? x : f(f(slope) * x)),
    first: (n) => inputs(n, 7),
    slopes: SLOPES,
  },
  {
    name: "leaky_relu's gradient",
    run: (x, g, gx, slope) => leakyReluGradF32(x, g, gx, slope),
    rule: (x, g, slope) => f(g * (x > 0 ? 1 : slope)),
    rule32: (x, g, slope) => (x > 0 ? g : f(g * f(slope))),
    first: (n) => inputs(n, 11),
    slopes: SLOPES,
  },
];

describe.each(CASES)('$name on WebAssembly SIMD in float64 lanes', ({ run, rule, rule32, first, slopes }) => {
  it('gives every element the bits of the JS rule, at any length from 1024 and for each slope', () => {
    for (const n of LENGTHS) {
      for (const slope of slopes) {
        const u = first(n);
        const g = patterns(n, n + 3);
        const out = new Float32Array(n).fill(123);
        expect(run(u, g, out, slope)).toBe(true);
        expectBits(out, Float32Array.from(u, (v, i) => rule(v, g[i]!, slope)));
      }
    }
  });

  it('rounds once, from the double: a float32 kernel would differ', () => {
    const n = ELEMENTWISE_MIN;
    // |u| near 1 makes 1 − y² need more than float32's bits; slope 0.1 is not a float32
    const u = Float32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (1 - (i + 1) * 2 ** -24));
    const g = Float32Array.from({ length: n }, (_, i) => 3 + i * 2 ** -20);
    const out = new Float32Array(n);
    const slope = slopes.length > 1 ? 0.1 : 0;
    expect(run(u, g, out, slope)).toBe(true);
    let float32Differs = 0;
    for (let i = 0; i < n; i++) {
      expect(out[i]).toBe(rule(u[i]!, g[i]!, slope));
      if (rule32(u[i]!, g[i]!, slope) !== out[i]) float32Differs++;
    }
    expect(float32Differs).toBeGreaterThan(0);
  });

  it('reads views at an offset and declines below 1024 elements', () => {
    const u = first(3000);
    const g = patterns(3000, 5);
    const out = new Float32Array(2000);
    const slope = slopes[slopes.length > 1 ? 2 : 0]!;
    expect(run(u.subarray(5, 2005), g.subarray(9, 2009), out, slope)).toBe(true);
    expectBits(out, Float32Array.from({ length: 2000 }, (_, i) => rule(u[i + 5]!, g[i + 9]!, slope)));
    const few = new Float32Array(ELEMENTWISE_MIN - 1);
    expect(run(few, few, few.slice(), slope)).toBe(false);
  });
});

describe('the ops give the same bits on the kernels (≥ 1024 elements) as on their JS loops (below)', () => {
  const ops: [string, Op<never>, object][] = [
    ['tanh', tanh as Op<never>, {}],
    ['sigmoid', sigmoid as Op<never>, {}],
    ['leaky_relu', leakyRelu as Op<never>, { negativeSlope: 0.1 }],
  ];
  it.each(ops)('%s: the VJP of the whole against its pieces (and the forward, where its kernel is exact)', (name, op, attrs) => {
    const n = 4096 + 11;
    const a = (op as unknown as { parseAttrs(a: object): never }).parseAttrs(attrs);
    const x = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3) };
    const y = op.forward([x], a);
    const g = { shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3) * 7) };
    const [whole] = op.vjp([x], y, g, a);
    for (let s = 0; s < n; s += 1000) {
      const e = Math.min(n, s + 1000); // under the threshold: the JS loops
      const part = (t: { data: Float32Array | Float64Array }) => ({ shape: [e - s], data: (t.data as Float32Array).subarray(s, e) });
      // tanh's forward kernel is within 1.51 ulp, not exact: the pieces take the whole's output
      if (name === 'leaky_relu') expectBits(op.forward([part(x)], a).data as Float32Array, part(y).data);
      const [pg] = op.vjp([part(x)], part(y), part(g), a);
      expectBits(pg!.data as Float32Array, part(whole!).data);
    }
  });
});
