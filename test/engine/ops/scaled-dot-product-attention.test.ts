import { describe, expect, it } from 'vitest';
import { recycling } from '../../../src/engine/buffers.js';
import { LimitError } from '../../../src/engine/errors.js';
import { gradients } from '../../../src/engine/index.js';
import { defineOp } from '../../../src/engine/op.js';
import { scaledDotProductAttention as sdpa } from '../../../src/engine/ops/scaled-dot-product-attention.js';
import { broadcastShapes, cast, emptyData, ShapeError, size, type Shape, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { graphJob } from '../helpers.js';
import { gemmBackends, useGemmBackend } from './gemm-backends.js';

interface Attrs {
  causal?: boolean;
  scale?: number;
  maskType?: 'boolean' | 'additive';
}

/** The flat index into `t` of the element at the index `idx` of the (broadcast) shape `full`. */
function at(t: Tensor, full: Shape, idx: number[]): number {
  let o = 0;
  const off = full.length - t.shape.length;
  t.shape.forEach((d, i) => (o = o * d + (d === 1 ? 0 : idx[off + i]!)));
  return o;
}

/** Independent oracle: torch 2's reference formula with plain loops, a fully masked row giving 0. */
function naive(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, a: Attrs): number[] {
  const [L, E] = q.shape.slice(-2) as [number, number];
  const [S, Ev] = [k.shape.at(-2)!, v.shape.at(-1)!];
  const batch = broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
  const scale = a.scale ?? 1 / Math.sqrt(E);
  const out: number[] = [];
  for (let t = 0; t < size(batch); t++) {
    const b: number[] = [];
    for (let d = batch.length - 1, r = t; d >= 0; d--) {
      b.unshift(r % batch[d]!);
      r = Math.floor(r / batch[d]!);
    }
    for (let i = 0; i < L; i++) {
      const s: number[] = [];
      for (let j = 0; j < S; j++) {
        let dot = 0;
        for (let e = 0; e < E; e++) dot += q.data[at(q, [...batch, L, E], [...b, i, e])]! * k.data[at(k, [...batch, S, E], [...b, j, e])]!;
        let x = dot * scale;
        const m = mask ? mask.data[at(mask, [...batch, L, S], [...b, i, j])]! : 1;
        if (mask && a.maskType === 'additive') x += m;
        else if (m === 0) x = -Infinity;
        if (a.causal && j > i) x = -Infinity;
        s.push(x);
      }
      const max = Math.max(...s);
      const w = s.map((x) => (max === -Infinity ? 0 : Math.exp(x - max)));
      const z = w.reduce((x, y) => x + y, 0);
      for (let c = 0; c < Ev; c++) {
        let o = 0;
        for (let j = 0; j < S; j++) if (w[j]) o += (w[j]! / z) * v.data[at(v, [...batch, S, Ev], [...b, j, c])]!;
        out.push(o);
      }
    }
  }
  return out;
}

const NAME = 'scaled_dot_product_attention';
const run = (inputs: Tensor[], attrs: Attrs = {}) => sdpa.forward(inputs, sdpa.parseAttrs(attrs));

/** The op with a fixed boolean mask: finite differences cannot step a 0/1 mask, so it is no input here. */
const masked = (mask: Tensor) =>
  defineOp({
    ...sdpa,
    arity: 3,
    forward: (ins, a) => sdpa.forward([...ins, mask], a),
    vjp: (ins, out, g, a) => sdpa.vjp([...ins, mask], out, g, a).slice(0, 3),
  });

// [q, k, v, mask?] shapes with their output shape
const cases: [Shape[], Shape][] = [
  [[[3, 4], [5, 4], [5, 2]], [3, 2]],
  [[[2, 3, 3, 4], [2, 3, 5, 4], [2, 3, 5, 6]], [2, 3, 3, 6]], // [B, H, L, E]
  [[[2, 1, 3, 4], [3, 5, 4], [1, 5, 2]], [2, 3, 3, 2]], // leading dims broadcast (k, v shared)
  [[[2, 3, 3, 4], [2, 3, 5, 4], [2, 3, 5, 2], [3, 5]], [2, 3, 3, 2]], // one mask for every head
  [[[2, 2, 3, 4], [2, 2, 3, 4], [2, 2, 3, 2], [2, 1, 1, 3]], [2, 2, 3, 2]], // key padding mask [B, 1, 1, S]
];

const bits = (shape: Shape, seed: number) => t64(shape, (i) => ((i * 7 + seed) % 5 === 0 ? 0 : 1));

describe.each(gemmBackends())('scaled_dot_product_attention on the %s gemm', (_name, backend) => {
  useGemmBackend(backend);

  it('weighs v by softmax(q kᵀ / √E) (hand-computed)', () => {
    const q = t64([1, 2], [2, 0]);
    const k = t64([2, 2], [1, 0, 0, 1]);
    const v = t64([2, 2], [1, 2, 3, 4]);
    // scores [2, 0] / √2; weights [w, 1 − w] with w = 1 / (1 + e^(−√2))
    const w = 1 / (1 + Math.exp(-Math.SQRT2));
    expectClose(run([q, k, v]), [w + 3 * (1 - w), 2 * w + 4 * (1 - w)], 1e-14);
    const w1 = 1 / (1 + Math.exp(-1));
    expectClose(run([q, k, v], { scale: 0.5 }), [w1 + 3 * (1 - w1), 2 * w1 + 4 * (1 - w1)], 1e-14);
  });

  it('matches the loop oracle with masks, causal and broadcast leading dims, in float64 and float32', () => {
    cases.forEach(([shapes, outShape], c) => {
      const [q, k, v] = shapes.slice(0, 3).map((s, i) => rand(s, 10 * c + i, -2, 2));
      const m = shapes[3];
      for (const attrs of [{}, { causal: true }, { scale: 0.3, maskType: 'additive' as const }, { maskType: 'boolean' as const, causal: true }]) {
        const mask = m && (attrs.maskType === 'additive' ? rand(m, 5 + c, -3, 1) : bits(m, c));
        const inputs = [q!, k!, v!, ...(mask ? [mask] : [])];
        expect(sdpa.shape(inputs.map((x) => x.shape), sdpa.parseAttrs(attrs))).toEqual(outShape);
        const want = naive(q!, k!, v!, mask, attrs);
        const out = run(inputs, attrs);
        expect(out.shape).toEqual(outShape);
        expectClose(out, want, 1e-12);
        const out32 = run(inputs.map((x) => cast(x, 'float32')), attrs);
        expect(out32.data).toBeInstanceOf(Float32Array);
        expectClose(out32, want, 2e-5);
      }
    });
  });

  it('never overflows: a shift of every score by ±1000 leaves the weights unchanged', () => {
    const [q, k, v] = [t64([1, 1], [2]), t64([3, 1], [1, 0.5, -1]), rand([3, 2], 3)];
    const want = run([q, k, v]).data;
    for (const shift of [1000, -1000]) {
      const mask = t64([3], [shift, shift, shift]);
      expectClose(run([q, k, v, mask], { maskType: 'additive' }), want, 1e-12);
      expectClose(run([q, k, v, mask].map((x) => cast(x, 'float32')), { maskType: 'additive' }), want, 1e-6);
    }
    // the largest score takes all the weight
    expectClose(run([t64([1, 1], [2000]), k, v], { scale: 1 }), [v.data[0]!, v.data[1]!], 1e-12);
    expectClose(run([t64([1, 1], [-2000]), k, v].map((x) => cast(x, 'float32')), { scale: 1 }), [v.data[4]!, v.data[5]!], 1e-6);
  });

  it('gives zeros, and passes no gradient, for a query with every key masked out (torch: NaN)', () => {
    const [q, k, v] = [rand([2, 3, 2], 1), rand([2, 4, 2], 2), rand([2, 4, 3], 3)];
    const mask = t64([2, 3, 4], (i) => (i < 4 || (i >= 16 && i < 20) ? 0 : 1)); // row 0 of batch 0, row 1 of batch 1
    const out = run([q, k, v, mask]);
    expectClose(out.data.subarray(0, 3), [0, 0, 0]);
    expectClose(out.data.subarray(12, 15), [0, 0, 0]);
    expectClose(out, naive(q, k, v, mask, {}), 1e-12);
    const additive = t64([2, 3, 4], (i) => (mask.data[i] ? 0 : -Infinity));
    expectClose(run([q, k, v, additive], { maskType: 'additive' }), out.data, 1e-14);
    const g = rand([2, 3, 3], 4);
    const [dq] = sdpa.vjp([q, k, v, mask], out, g, sdpa.parseAttrs({}));
    expectClose(dq!.data.subarray(0, 2), [0, 0]);
    checkVjp(masked(mask), [q, k, v]);
    // a NaN score is not a masked key: its row is NaN, as torch's
    const qn = t64([2, 3, 2], (i) => (i === 2 ? NaN : q.data[i]!));
    const nanOut = run([qn, k, v, mask]);
    expect([0, 1, 2].map((c) => Number.isNaN(nanOut.data[3 + c]!))).toEqual([true, true, true]);
    expectClose(nanOut.data.subarray(0, 3), [0, 0, 0]);
    // no keys at all: every row is fully masked
    expectClose(run([rand([2, 2], 5), t64([0, 2], []), t64([0, 3], [])]), [0, 0, 0, 0, 0, 0]);
  });

  it('rejects shapes that do not fit, naming the input', () => {
    const fails = (shapes: Shape[], pattern: RegExp, input: number) => {
      let err: unknown;
      try {
        sdpa.shape(shapes, sdpa.parseAttrs({}));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ShapeError);
      expect((err as ShapeError).message).toMatch(pattern);
      expect((err as ShapeError).input).toBe(input);
    };
    fails([[4], [5, 4], [5, 2]], /q must have rank ≥ 2/, 0);
    fails([[3, 4], [5, 3], [5, 2]], /k \[5, 3\] must end in q's feature size 4/, 1);
    fails([[3, 4], [5, 4], [6, 2]], /v \[6, 2\] must have k's length 5/, 2);
    fails([[2, 3, 4], [3, 5, 4], [3, 5, 2]], /leading dims .* do not broadcast/, 1);
    fails([[3, 4], [5, 4], [5, 2], [3, 4]], /mask \[3, 4\] must broadcast to the scores' shape \[3, 5\]/, 3);
    fails([[3, 4], [5, 4], [5, 2], [2, 3, 5]], /mask \[2, 3, 5\] must broadcast/, 3);
    expect(sdpa.shape([[3, 4], [5, 4], [5, 2], [5]], sdpa.parseAttrs({}))).toEqual([3, 2]);
    expect(() => sdpa.parseAttrs({ maskType: 'bool' })).toThrow();
  });

  it('has a VJP matching finite differences: plain, causal, scaled, broadcast, with either mask', () => {
    cases.forEach(([shapes], c) => {
      const [q, k, v] = shapes.slice(0, 3).map((s, i) => rand(s, 100 + 10 * c + i, -2, 2));
      checkVjp(sdpa, [q!, k!, v!]);
      checkVjp(sdpa, [q!, k!, v!], { causal: true, scale: 0.7 });
      const m = shapes[3];
      if (m) {
        checkVjp(masked(bits(m, c)), [q!, k!, v!], { causal: c % 2 === 0 });
        checkVjp(sdpa, [q!, k!, v!, rand(m, 200 + c, -2, 1)], { maskType: 'additive' });
      }
    });
    // equal scores (q = 0): the uniform weights, where the softmax is flattest
    checkVjp(sdpa, [t64([2, 3], [0, 0, 0, 0, 0, 0]), rand([4, 3], 1), rand([4, 2], 2)]);
  });

  it('skips the gradients the engine says nobody needs, and takes none for a boolean mask', () => {
    const inputs = [rand([2, 3, 4], 1), rand([2, 5, 4], 2), rand([2, 5, 2], 3), bits([3, 5], 1)];
    const attrs = sdpa.parseAttrs({ causal: true });
    const out = sdpa.forward(inputs, attrs);
    const g = rand([2, 3, 2], 4);
    const all = sdpa.vjp(inputs, out, g, attrs);
    expect(all[3]).toBeNull();
    for (let i = 0; i < 3; i++) {
      const needs = [0, 1, 2, 3].map((j) => j === i);
      const got = sdpa.vjp(inputs, out, g, attrs, needs);
      got.forEach((d, j) => (j === i ? expectClose(d!, all[i]!.data, 1e-14) : expect(d).toBeNull()));
    }
  });

  it("keeps the forward pass's weights for its own output's backward pass: the gradients of recomputing them; another q or mask, other attributes or a later recycling call recompute them", () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const inputs = [rand([2, 2, 5, 8], 1, -2, 2), rand([2, 2, 6, 8], 2, -2, 2), rand([2, 2, 6, 4], 3), rand([2, 1, 5, 6], 4, -1, 0)].map((t) => cast(t, dtype));
      const attrs = sdpa.parseAttrs({ maskType: 'additive', causal: true });
      const g = cast(rand([2, 2, 5, 4], 5), dtype);
      const grads = (ins: Tensor[], out: Tensor, a = attrs) => sdpa.vjp(ins, out, g, a).map((t) => Array.from(t!.data));
      /** recomputed: for an output the forward pass did not make */
      const fresh = (ins: Tensor[], a = attrs) => grads(ins, { ...sdpa.forward(ins, a) }, a);
      const out = sdpa.forward(inputs, attrs);
      expect(grads(inputs, out)).toEqual(fresh(inputs));
      const q2 = cast(rand([2, 2, 5, 8], 6, -2, 2), dtype);
      expect(grads([q2, ...inputs.slice(1)], out)).toEqual(fresh([q2, ...inputs.slice(1)]));
      const m2 = cast(rand([2, 1, 5, 6], 7, -1, 0), dtype);
      expect(grads([...inputs.slice(0, 3), m2], out)).toEqual(fresh([...inputs.slice(0, 3), m2]));
      for (const raw of [{ maskType: 'additive', causal: false }, { maskType: 'additive', causal: true, scale: 0.3 }]) {
        const other = sdpa.parseAttrs(raw);
        expect(grads(inputs, out, other)).toEqual(fresh(inputs, other));
      }
      // kept inside one recycling call, its memory (4 products of 32 × 32, from the cache's 16 KiB)
      // handed out again by the next: not read after
      const big = [rand([2, 2, 32, 16], 8, -2, 2), rand([2, 2, 32, 16], 9, -2, 2), rand([2, 2, 32, 8], 10)].map((t) => cast(t, dtype));
      const plain = sdpa.parseAttrs({ causal: true });
      const gBig = cast(rand([2, 2, 32, 8], 11), dtype);
      const bigGrads = (out: Tensor) => sdpa.vjp(big, out, gBig, plain).map((t) => Array.from(t!.data));
      const out2 = recycling(() => sdpa.forward(big, plain));
      recycling(() => {
        for (let k = 0; k < 4; k++) emptyData(4 * 32 * 32, dtype).fill(7);
      });
      expect(recycling(() => bigGrads(out2))).toEqual(bigGrads({ ...sdpa.forward(big, plain) }));
    }
  });

  it('gives float32 gradients that agree with float64', () => {
    const inputs = [rand([2, 2, 5, 8], 1, -2, 2), rand([2, 2, 6, 8], 2, -2, 2), rand([2, 2, 6, 4], 3), rand([2, 1, 5, 6], 4, -1, 0)];
    const attrs = sdpa.parseAttrs({ maskType: 'additive', causal: true });
    const g = rand([2, 2, 5, 4], 5);
    const ref = sdpa.vjp(inputs, sdpa.forward(inputs, attrs), g, attrs);
    const i32 = inputs.map((t) => cast(t, 'float32'));
    const got = sdpa.vjp(i32, sdpa.forward(i32, attrs), cast(g, 'float32'), attrs);
    got.forEach((t, i) => {
      expect(t!.data).toBeInstanceOf(Float32Array);
      expectClose(t!, ref[i]!.data, 2e-5);
    });
  });
});

describe('scaled_dot_product_attention workspace', () => {
  it('counts its [L, S] scratch against MAX_ELEMENTS, so long sequences are refused before allocating', () => {
    // the weights of both products kept (2·3·5 ≤ q, k and v's 74 elements), and the weights' gradient
    expect(sdpa.workspace!([[2, 3, 4], [2, 5, 4], [2, 5, 1]], sdpa.parseAttrs({}))).toBe(3 * 5 * (2 + 1));
    expect(sdpa.workspace!([[2, 3, 4], [2, 5, 4], [2, 5, 1], [3, 5]], sdpa.parseAttrs({ maskType: 'additive' }))).toBe(3 * 5 * (2 + 1 + 2));
    // not kept (2·30·30 > 360): one product's weights and their gradient
    expect(sdpa.workspace!([[2, 30, 2], [2, 30, 2], [2, 30, 2]], sdpa.parseAttrs({}))).toBe(2 * 30 * 30);
    const n = 300; // values: q, k, v, out and the loss, 1201 elements; the weights 2·300·300
    const job = graphJob(
      { inputs: ['q'], nodes: [{ id: 'a', op: NAME, inputs: ['q', 'q', 'q'] }, { id: 'L', op: 'sum', inputs: ['a'] }], output: 'L' },
      { inputs: { q: rand([n, 1], 1) } },
    );
    expect(() => gradients(job, { maxElements: 100_000, maxNodes: 10 })).toThrow(LimitError);
    expect(gradients(job, { maxElements: 200_000, maxNodes: 10 }).loss).toBeTypeOf('number');
  });
});
