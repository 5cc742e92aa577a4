// layernorm over rows of d float32 (src/engine/ops/norm-groups.ts for a layernorm row), two float64
// lanes at a time, in place on rows the JS side copied in (src/engine/kernels/wasm.ts). The arithmetic of
// the JS loops in float64, rounded once; only the sums run in two lanes, so the order of their additions
// differs. w and b (float32, d each) are always given: ones and zeros stand for absent ones.

import { high as hi, low as lo, narrow } from './lanes';

@inline function total(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** The mean and 1/√(σ² + eps) of the row at byte offset x (d a multiple of 4), stored at stats. */
@inline function rowStats(x: usize, d: i32, eps: f64, stats: usize): void {
  const bytes = <usize>d << 2;
  let s = f64x2.splat(0);
  for (let j: usize = 0; j < bytes; j += 16) {
    const v = v128.load(x + j);
    s = f64x2.add(s, f64x2.add(lo(v), hi(v)));
  }
  const mu = total(s) / <f64>d;
  const m = f64x2.splat(mu);
  let q = f64x2.splat(0);
  for (let j: usize = 0; j < bytes; j += 16) {
    const v = v128.load(x + j);
    const a = f64x2.sub(lo(v), m);
    const b = f64x2.sub(hi(v), m);
    q = f64x2.add(q, f64x2.add(f64x2.mul(a, a), f64x2.mul(b, b)));
  }
  store<f64>(stats, mu);
  store<f64>(stats + 8, 1 / Math.sqrt(total(q) / <f64>d + eps));
}

/**
 * mode 0: each of `rows` rows of d float32 at x ← (x − μ)·r·w + b. mode 1: g ← ∂L/∂x of each row
 * (r·(g·w − mean(g·w) − x̂·mean(g·w·x̂))), and Σ g·x̂, Σ g added to the float64 dw, db. d is a
 * multiple of 4; stats is 16 bytes of scratch.
 */
export function layernorm32(mode: i32, x: usize, g: usize, rows: i32, d: i32, w: usize, b: usize, dw: usize, db: usize, eps: f64, stats: usize): void {
  const bytes = <usize>d << 2;
  for (let i = 0; i < rows; i++) {
    const xr = x + <usize>i * bytes;
    rowStats(xr, d, eps, stats);
    const m = f64x2.splat(load<f64>(stats));
    const r = f64x2.splat(load<f64>(stats, 8));
    if (mode === 0) {
      for (let j: usize = 0; j < bytes; j += 16) {
        const v = v128.load(xr + j);
        const wv = v128.load(w + j);
        const bv = v128.load(b + j);
        const a = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(lo(v), m), r), lo(wv)), lo(bv));
        const c = f64x2.add(f64x2.mul(f64x2.mul(f64x2.sub(hi(v), m), r), hi(wv)), hi(bv));
        v128.store(xr + j, narrow(a, c));
      }
      continue;
    }
    const gr = g + <usize>i * bytes;
    let s1 = f64x2.splat(0);
    let s2 = f64x2.splat(0);
    for (let j: usize = 0; j < bytes; j += 16) {
      const v = v128.load(xr + j);
      const gv = v128.load(gr + j);
      const wv = v128.load(w + j);
      const xa = f64x2.mul(f64x2.sub(lo(v), m), r);
      const xb = f64x2.mul(f64x2.sub(hi(v), m), r);
      const ga = lo(gv);
      const gb = hi(gv);
      const ha = f64x2.mul(ga, lo(wv));
      const hb = f64x2.mul(gb, hi(wv));
      s1 = f64x2.add(s1, f64x2.add(ha, hb));
      s2 = f64x2.add(s2, f64x2.add(f64x2.mul(ha, xa), f64x2.mul(hb, xb)));
      const o = dw + (j << 1);
      v128.store(o, f64x2.add(v128.load(o), f64x2.mul(ga, xa)));
      v128.store(o + 16, f64x2.add(v128.load(o + 16), f64x2.mul(gb, xb)));
      const p = db + (j << 1);
      v128.store(p, f64x2.add(v128.load(p), ga));
      v128.store(p + 16, f64x2.add(v128.load(p + 16), gb));
    }
    const m1 = f64x2.splat(total(s1) / <f64>d);
    const m2 = f64x2.splat(total(s2) / <f64>d);
    for (let j: usize = 0; j < bytes; j += 16) {
      const v = v128.load(xr + j);
      const gv = v128.load(gr + j);
      const wv = v128.load(w + j);
      const xa = f64x2.mul(f64x2.sub(lo(v), m), r);
      const xb = f64x2.mul(f64x2.sub(hi(v), m), r);
      const a = f64x2.mul(r, f64x2.sub(f64x2.sub(f64x2.mul(lo(gv), lo(wv)), m1), f64x2.mul(xa, m2)));
      const c = f64x2.mul(r, f64x2.sub(f64x2.sub(f64x2.mul(hi(gv), hi(wv)), m1), f64x2.mul(xb, m2)));
      v128.store(gr + j, narrow(a, c));
    }
  }
}
