import { describe, expect, it } from 'vitest';
import { layernorm } from '../../../src/engine/ops/layernorm.js';
import { cast, ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('layernorm', () => {
  const x = t64([2, 4], [1, 2, 3, 4, 2, -2, 0, 6]);
  const w = t64([4], [1, 0.5, -1, 2]);
  const b = t64([4], [0, 1, 0, -1]);
  const defaults = layernorm.parseAttrs({});
  // numpy: (x − mean) / sqrt(var + 1e-5), biased variance over the last axis
  const xhat = [-1.3416354199689269, -0.447211806656309, 0.447211806656309, 1.3416354199689269, 0.16903075435672843, -1.183215280497099, -0.5070922630701853, 1.5212767892105559];

  it('normalizes over the last axis with biased variance, eps = 1e-5 (F.layer_norm)', () => {
    expect(defaults).toEqual({ axis: -1, eps: 1e-5 });
    expectClose(layernorm.forward([x], defaults), xhat, 1e-13);
    const affine = [-1.3416354199689269, 0.7763940966718454, -0.447211806656309, 1.6832708399378538, 0.16903075435672843, 0.4083923597514505, 0.5070922630701853, 2.0425535784211117];
    expectClose(layernorm.forward([x, w, b], defaults), affine, 1e-13);
    expectClose(layernorm.forward([x, w], defaults), affine.map((v, i) => v - b.data[i % 4]!), 1e-13);
  });

  it('normalizes over every axis from `axis` on', () => {
    const x3 = t64([1, 2, 4], x.data);
    const all = layernorm.forward([x3], layernorm.parseAttrs({ axis: 1 }));
    const mu = 2;
    const variance = [1, 2, 3, 4, 2, -2, 0, 6].reduce((s, v) => s + (v - mu) ** 2, 0) / 8;
    expectClose(all, [...x.data].map((v) => (v - mu) / Math.sqrt(variance + 1e-5)), 1e-13);
    expect(layernorm.shape([[1, 2, 4], [2, 4]], layernorm.parseAttrs({ axis: -2 }))).toEqual([1, 2, 4]);
  });

  it('maps a constant row to the bias (variance 0, kept finite by eps)', () => {
    expectClose(layernorm.forward([t64([1, 4], [3, 3, 3, 3]), w, b], defaults), [0, 1, 0, -1]);
  });

  it('works in float32', () => {
    const y = layernorm.forward([cast(x, 'float32'), cast(w, 'float32')], defaults);
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, xhat.map((v, i) => v * w.data[i % 4]!), 1e-6);
  });

  it('rejects weight/bias shapes other than x.shape[axis:], and bad axes', () => {
    expect(() => layernorm.shape([[2, 4], [3]], defaults)).toThrow(/weight \[3\] must have the normalized shape \[4\]/);
    expect(() => layernorm.shape([[2, 4], [4], [2, 4]], defaults)).toThrow(/bias \[2, 4\]/);
    expect(() => layernorm.shape([[2, 4], [4]], layernorm.parseAttrs({ axis: 0 }))).toThrow(ShapeError);
    expect(() => layernorm.shape([[2, 4]], layernorm.parseAttrs({ axis: 2 }))).toThrow(/axis 2 is out of range/);
    expect(() => layernorm.shape([[]], defaults)).toThrow(/rank ≥ 1/);
    expect(() => layernorm.parseAttrs({ eps: -1 })).toThrow();
  });

  it('has a VJP matching finite differences, with and without weight and bias', () => {
    checkVjp(layernorm, [rand([3, 5], 1), rand([5], 2), rand([5], 3)]);
    checkVjp(layernorm, [rand([2, 3, 4], 4)], { axis: 1 });
    checkVjp(layernorm, [rand([2, 3, 4], 5), rand([4], 6)]);
    checkVjp(layernorm, [t64([2, 3], [0, 0, 0, 1, 1, 1]), t64([3], [1, 0, 2]), t64([3], [0, 0, 0])]);
  });

  it('float32 rows (the SIMD kernel, blocks of rows) agree with the float64 loops, with and without weight and bias', () => {
    const [n, d] = [300, 128];
    const rnd = (len: number, seed: number, scale: number, offset = 0) => t64([len], (i) => offset + scale * Math.sin(i * 12.9898 + seed)).data;
    const x = t64([3, n / 3, d], rnd(n * d, 1, 2, 5));
    const w = t64([d], rnd(d, 2, 1));
    const b = t64([d], rnd(d, 3, 0.5));
    const g = t64([3, n / 3, d], rnd(n * d, 4, 1));
    const f32 = (ts: ReturnType<typeof t64>[]) => ts.map((t) => cast(t, 'float32'));
    for (const inputs of [[x, w, b], [x]]) {
      const y64 = layernorm.forward(f32(inputs).map((t) => cast(t, 'float64')), defaults);
      const y32 = layernorm.forward(f32(inputs), defaults);
      expect(y32.data).toBeInstanceOf(Float32Array);
      let worst = 0;
      y32.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y64.data[i]!) / Math.max(1, Math.abs(y64.data[i]!)))));
      expect(worst).toBeLessThanOrEqual(2.4e-7);
      const g64 = layernorm.vjp(f32(inputs).map((t) => cast(t, 'float64')), y64, cast(cast(g, 'float32'), 'float64'), defaults);
      const g32 = layernorm.vjp(f32(inputs), y32, cast(g, 'float32'), defaults);
      g32.forEach((t, k) => {
        const ref = g64[k]!.data;
        const scale = Math.max(...ref.map(Math.abs));
        let err = 0;
        t!.data.forEach((v, i) => (err = Math.max(err, Math.abs(v - ref[i]!))));
        expect(err / scale, `gradient ${k}`).toBeLessThanOrEqual(1e-6);
      });
    }
  });
});
