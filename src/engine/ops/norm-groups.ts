// The arithmetic shared by layernorm and batchnorm: both standardize groups of elements with the
// biased variance, then apply a per-position affine map. They differ only in what a group is.
import { dtypeOf, zeros, type Data, type Tensor } from '../tensor.js';

export interface NormGroups {
  count: number;
  /** elements per group (the n of the mean and of the biased variance) */
  size: number;
  /** calls `f` with the flat index of every element of group `k` */
  each: (k: number, f: (i: number) => void) => void;
  /** index into weight/bias of element `i` of group `k` */
  param: (k: number, i: number) => number;
}

function stats(xs: Data, G: NormGroups, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const mean = new Float64Array(G.count);
  const rstd = new Float64Array(G.count);
  for (let k = 0; k < G.count; k++) {
    let s = 0;
    G.each(k, (i) => (s += xs[i]!));
    const mu = s / G.size;
    // two passes: Σ(x − μ)² does not cancel catastrophically the way Σx² − nμ² does
    let v = 0;
    G.each(k, (i) => (v += (xs[i]! - mu) ** 2));
    mean[k] = mu;
    rstd[k] = 1 / Math.sqrt(v / G.size + eps);
  }
  return { mean, rstd };
}

/** y = (x − μ) / √(σ² + eps) · w + b per group; `w`, `b` optional. */
export function normForward([x, w, b]: Tensor[], G: NormGroups, eps: number): Tensor {
  const { mean, rstd } = stats(x!.data, G, eps);
  const y = zeros(x!.shape, dtypeOf(x!));
  const [xs, ys, ws, bs] = [x!.data, y.data, w?.data, b?.data];
  for (let k = 0; k < G.count; k++) {
    G.each(k, (i) => {
      const p = G.param(k, i);
      ys[i] = (xs[i]! - mean[k]!) * rstd[k]! * (ws ? ws[p]! : 1) + (bs ? bs[p]! : 0);
    });
  }
  return y;
}

// NOTE: with x̂ = (x − μ)·r, r = 1/√(σ² + eps), and ĝ = g·w, the gradient through μ and σ² folds to
//   ∂L/∂x = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))   (means over the group),
// and ∂L/∂w = Σ g·x̂, ∂L/∂b = Σ g over every element that uses that weight.
export function normVjp([x, w, b]: Tensor[], g: Tensor, G: NormGroups, eps: number): Tensor[] {
  const { mean, rstd } = stats(x!.data, G, eps);
  const dx = zeros(x!.shape, dtypeOf(g));
  const [xs, gs, ds, ws] = [x!.data, g.data, dx.data, w?.data];
  const dw = new Float64Array(w ? w.data.length : 0);
  const db = new Float64Array(b ? b.data.length : 0);
  for (let k = 0; k < G.count; k++) {
    const [mu, r] = [mean[k]!, rstd[k]!];
    let s1 = 0;
    let s2 = 0;
    G.each(k, (i) => {
      const p = G.param(k, i);
      const xh = (xs[i]! - mu) * r;
      const gh = gs[i]! * (ws ? ws[p]! : 1);
      s1 += gh;
      s2 += gh * xh;
      if (w) dw[p] += gs[i]! * xh;
      if (b) db[p] += gs[i]!;
    });
    const [m1, m2] = [s1 / G.size, s2 / G.size];
    G.each(k, (i) => {
      const xh = (xs[i]! - mu) * r;
      ds[i] = r * (gs[i]! * (ws ? ws[G.param(k, i)]! : 1) - m1 - xh * m2);
    });
  }
  return [dx, ...(w ? [fromAcc(w, dw)] : []), ...(b ? [fromAcc(b, db)] : [])];
}

/** A parameter gradient accumulated in float64, stored in the parameter's dtype. */
function fromAcc(like: Tensor, acc: Float64Array): Tensor {
  const t = zeros(like.shape, dtypeOf(like));
  t.data.set(acc);
  return t;
}
