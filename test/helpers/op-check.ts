import { expect } from 'vitest';
import type { AnyOp } from '../../src/engine/op.js';
import { sumToShape, tensor, type Shape, type Tensor } from '../../src/engine/tensor.js';

/** Small deterministic PRNG for tests (mulberry32). */
export function rng(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** float64 tensor from a shape and values (or a generator). */
export function t64(shape: Shape, values: ArrayLike<number> | ((i: number) => number)): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = typeof values === 'function' ? Array.from({ length: n }, (_, i) => values(i)) : values;
  return tensor(shape, vals, 'float64');
}

/** Random float64 tensor with entries in [lo, hi). */
export function rand(shape: Shape, seed = 1, lo = -1, hi = 1): Tensor {
  const r = rng(seed);
  return t64(shape, () => lo + (hi - lo) * r());
}

export function expectClose(actual: Tensor | ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9): void {
  const a = 'data' in actual ? actual.data : actual;
  expect(a.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const d = Math.abs(a[i]! - e);
    if (!(d <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: got ${a[i]}, expected ${e} (tolerance ${tol})`);
    }
  }
}

export interface VjpCheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
}

/**
 * Checks an op's VJP against central finite differences in float64: for a random upstream gradient g,
 * d<g, f(x)>/dx_j ≈ (<g, f(x + eps e_j)> − <g, f(x − eps e_j)>) / 2eps for every element of every
 * differentiable input. Also checks that the VJP returns one entry per input and that each gradient
 * sums back to its input's shape. Points should include 0 and every kink the op has, approached from
 * the side the op's subgradient convention defines (call it once per side if needed).
 */
export function checkVjp(op: AnyOp, inputs: Tensor[], rawAttrs: unknown = {}, opts: VjpCheckOptions = {}): void {
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-5, seed = 7 } = opts;
  const attrs = op.parseAttrs(rawAttrs);
  const shape = op.shape(inputs.map((x) => x.shape), attrs);
  const out = op.forward(inputs, attrs);
  expect(out.shape).toEqual(shape);
  const r = rng(seed);
  const g = t64(out.shape, () => r() * 2 - 1);
  const grads = op.vjp(inputs, out, g, attrs);
  expect(grads.length).toBe(inputs.length);
  const dot = (y: Tensor): number => {
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += y.data[i]! * g.data[i]!;
    return s;
  };
  inputs.forEach((x, k) => {
    const raw = grads[k];
    if (op.nonDifferentiable?.includes(k)) return;
    if (raw === null || raw === undefined) throw new Error(`${op.name}: vjp returned no gradient for input ${k}`);
    const analytic = sumToShape(raw, x.shape);
    expect(analytic.shape).toEqual(x.shape);
    for (let j = 0; j < x.data.length; j++) {
      const saved = x.data[j]!;
      x.data[j] = saved + eps;
      const plus = dot(op.forward(inputs, attrs));
      x.data[j] = saved - eps;
      const minus = dot(op.forward(inputs, attrs));
      x.data[j] = saved;
      const numeric = (plus - minus) / (2 * eps);
      const a = analytic.data[j]!;
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) {
        throw new Error(`${op.name}: input ${k} element ${j} (x=${saved}): vjp ${a}, finite difference ${numeric}`);
      }
    }
  });
}
