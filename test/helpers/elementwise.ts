import { expect } from 'vitest';
import type { AnyOp } from '../../src/engine/op.js';
import { ShapeError } from '../../src/engine/tensor.js';
import { checkVjp, expectClose, t64 } from './op-check.js';

/** Forward values of a unary op at `xs` (float64), against reference values. */
export function expectUnary(op: AnyOp, xs: number[], expected: number[], rawAttrs: unknown = {}, tol = 1e-14): void {
  expectClose(op.forward([t64([xs.length], xs)], op.parseAttrs(rawAttrs)), expected, tol);
}

/** The derivative a unary op's VJP uses at exactly `x` (upstream gradient 1). */
export function localDerivative(op: AnyOp, x: number, rawAttrs: unknown = {}): number {
  const attrs = op.parseAttrs(rawAttrs);
  const input = t64([], [x]);
  return op.vjp([input], op.forward([input], attrs), t64([], [1]), attrs)[0]!.data[0]!;
}

/** ∂out/∂a and ∂out/∂b a binary op's VJP uses at exactly (a, b) (upstream gradient 1). */
export function localPartials(op: AnyOp, a: number, b: number): [number, number] {
  const inputs = [t64([], [a]), t64([], [b])];
  const [ga, gb] = op.vjp(inputs, op.forward(inputs, {}), t64([], [1]), {});
  return [ga!.data[0]!, gb!.data[0]!];
}

/**
 * A kink at `x0`: the VJP matches finite differences just left and just right of it (offset ≫ the
 * finite-difference step), and at `x0` itself it is exactly PyTorch's subgradient `atKink`.
 */
export function checkKink(op: AnyOp, x0: number, atKink: number, rawAttrs: unknown = {}): void {
  checkVjp(op, [t64([2], [x0 - 1e-3, x0 + 1e-3])], rawAttrs);
  expectSame(localDerivative(op, x0, rawAttrs), atKink);
}

/** Equal up to `rtol` relative (so ±0 and rounding in the last bits pass); ±inf and NaN exactly. */
export function expectSame(actual: number, expected: number, rtol = 1e-15): void {
  if (Number.isFinite(expected)) {
    expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rtol * Math.abs(expected));
  } else {
    expect(actual).toBe(expected);
  }
}

/** A unary op's output has its input's shape, for scalars and higher ranks alike. */
export function expectSameShape(op: AnyOp, rawAttrs: unknown = {}): void {
  const attrs = op.parseAttrs(rawAttrs);
  for (const s of [[], [1], [5], [2, 3], [2, 0, 4]]) expect(op.shape([s], attrs)).toEqual(s);
}

/** A binary op broadcasts NumPy-style and rejects shapes that do not broadcast. */
export function expectBroadcastShape(op: AnyOp): void {
  expect(op.shape([[3, 1], [4]], {})).toEqual([3, 4]);
  expect(op.shape([[], [2, 5]], {})).toEqual([2, 5]);
  expect(op.shape([[2, 1, 3], [4, 1]], {})).toEqual([2, 4, 3]);
  expect(() => op.shape([[3], [4]], {})).toThrow(ShapeError);
  expect(() => op.shape([[2, 3], [3, 2]], {})).toThrow(ShapeError);
}

/**
 * Far from 0 (|x| up to 1e3) a unary op neither overflows nor loses its tails: output and local
 * derivative at each x match the expected pair to `rtol` relative.
 */
export function expectTails(op: AnyOp, cases: [x: number, y: number, dy: number][], rawAttrs: unknown = {}, rtol = 1e-13): void {
  const attrs = op.parseAttrs(rawAttrs);
  for (const [x, y, dy] of cases) {
    expectSame(op.forward([t64([], [x])], attrs).data[0]!, y, rtol);
    expectSame(localDerivative(op, x, rawAttrs), dy, rtol);
  }
}

/** the spacing of float32 at |a| (subnormal spacing below 2^−126) */
export function float32Ulp(a: number): number {
  const m = Math.abs(Math.fround(a));
  return m === 0 ? 2 ** -149 : 2 ** Math.max(Math.floor(Math.log2(m)) - 23, -149);
}

/** |y − ref| in units in the last place of float32 at ref */
export function float32Ulps(y: number, ref: number): number {
  return Math.abs(y - ref) / float32Ulp(ref);
}

/** every `step`th float32 bit pattern, and −0 (pattern 2^31): every exponent, both signs, NaNs, ±∞, ±0 */
export function float32Patterns(step: number): Float32Array {
  const n = Math.ceil(2 ** 32 / step);
  const bits = Int32Array.from({ length: n + 1 }, (_, i) => (i === n ? 0x80000000 : i * step) | 0);
  return new Float32Array(bits.buffer);
}

/**
 * A unary op with an approximate float32 kernel (src/engine/kernels, from ELEMENTWISE_MIN elements):
 * its float32 result of `minElements + 5` values within `bound` ulp of `exact` (and not all exact, so
 * the kernel ran), 1000 of them exact through the JS loop, and float64 exact at any length.
 */
export function expectKernelFrom(op: AnyOp, exact: (x: number) => number, bound: number, minElements: number, scale: number): void {
  const values = Array.from({ length: minElements + 5 }, (_, i) => Math.sin(i) * scale);
  const attrs = op.parseAttrs({});
  const big = op.forward([{ shape: [values.length], data: Float32Array.from(values) }], attrs);
  const small = op.forward([{ shape: [1000], data: Float32Array.from(values.slice(0, 1000)) }], attrs);
  const wide = op.forward([t64([values.length], values)], attrs);
  let differs = 0;
  for (let i = 0; i < values.length; i++) {
    const x = Math.fround(values[i]!);
    expect(float32Ulps(big.data[i]!, exact(x))).toBeLessThanOrEqual(bound);
    if (big.data[i] !== Math.fround(exact(x))) differs++;
    if (i < 1000) expect(small.data[i]).toBe(Math.fround(exact(x)));
    expect(wide.data[i]).toBe(exact(values[i]!));
  }
  expect(differs).toBeGreaterThan(0); // the kernel, not the loop, computed the large one
}
