// The arithmetic shared by layernorm and batchnorm: both standardize groups of elements with the
// biased variance, then apply an affine map. They differ only in what a group is, and in whether the
// weight and bias are indexed by the position in the group (layernorm) or by the group (batchnorm).
import { layerNormF32, layerNormGradF32 } from '../kernels/index.js';
import { dtypeOf, empty, zeros, type Data, type Tensor } from '../tensor.js';

/**
 * Group k is `blocks` runs of `inner` contiguous elements, the first starting at k·groupStride and
 * each next one blockStride further (a layernorm row: one run; a batchnorm channel: one run per sample).
 */
export interface NormGroups {
  count: number;
  blocks: number;
  inner: number;
  groupStride: number;
  blockStride: number;
  /** weight and bias hold one value per group (batchnorm's channels), else one per position in the group */
  perGroup: boolean;
}

/** The mean and 1/√(σ² + eps) of every group. */
function stats(xs: Data, G: NormGroups, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const { count, blocks, inner, groupStride, blockStride } = G;
  const n = blocks * inner;
  const mean = new Float64Array(count);
  const rstd = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    let s = 0;
    for (let b = 0, o = k * groupStride; b < blocks; b++, o += blockStride) for (let i = o, end = o + inner; i < end; i++) s += xs[i]!;
    const mu = s / n;
    // two passes: Σ(x − μ)² does not cancel catastrophically the way Σx² − nμ² does
    let v = 0;
    for (let b = 0, o = k * groupStride; b < blocks; b++, o += blockStride) {
      for (let i = o, end = o + inner; i < end; i++) {
        const d = xs[i]! - mu;
        v += d * d;
      }
    }
    mean[k] = mu;
    rstd[k] = 1 / Math.sqrt(v / n + eps);
  }
  return { mean, rstd };
}

/** The weight and bias values, ones and zeros (of x's dtype) where absent: ×1 and +0 change nothing. */
function affine(x: Tensor, w: Tensor | undefined, b: Tensor | undefined, G: NormGroups): [Data, Data] {
  const n = G.perGroup ? G.count : G.blocks * G.inner;
  const make = () => (x.data instanceof Float32Array ? new Float32Array(n) : new Float64Array(n));
  return [w ? w.data : make().fill(1), b ? b.data : make()];
}

/** Float32 layernorm rows (contiguous groups, weights per position) go to the SIMD kernel. */
const rowsF32 = (G: NormGroups, ...arrays: Data[]): boolean =>
  !G.perGroup && G.blocks === 1 && G.groupStride === G.inner && arrays.every((a) => a instanceof Float32Array);

/** y = (x − μ) / √(σ² + eps) · w + b per group; `w`, `b` optional. */
export function normForward([x, w, b]: Tensor[], G: NormGroups, eps: number): Tensor {
  const { count, blocks, inner, groupStride, blockStride, perGroup } = G;
  const y = empty(x!.shape, dtypeOf(x!));
  const [xs, ys] = [x!.data, y.data];
  const [ws, bs] = affine(x!, w, b, G);
  if (rowsF32(G, xs, ys, ws, bs) && layerNormF32(xs as Float32Array, inner, ws as Float32Array, bs as Float32Array, eps, ys as Float32Array)) return y;
  const { mean, rstd } = stats(xs, G, eps);
  for (let k = 0; k < count; k++) {
    const mu = mean[k]!;
    const r = rstd[k]!;
    for (let blk = 0, o = k * groupStride; blk < blocks; blk++, o += blockStride) {
      // p: the weight and bias index of the run's first element, then of each next (step 0 per group)
      const p0 = perGroup ? k : blk * inner;
      const step = perGroup ? 0 : 1;
      for (let i = o, p = p0, end = o + inner; i < end; i++, p += step) ys[i] = (xs[i]! - mu) * r * ws[p]! + bs[p]!;
    }
  }
  return y;
}

// NOTE: with x̂ = (x − μ)·r, r = 1/√(σ² + eps), and ĝ = g·w, the gradient through μ and σ² folds to
//   ∂L/∂x = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))   (means over the group),
// and ∂L/∂w = Σ g·x̂, ∂L/∂b = Σ g over every element that uses that weight.
export function normVjp([x, w, b]: Tensor[], g: Tensor, G: NormGroups, eps: number): Tensor[] {
  const { count, blocks, inner, groupStride, blockStride, perGroup } = G;
  const n = blocks * inner;
  const dx = empty(x!.shape, dtypeOf(g));
  const [xs, gs, ds] = [x!.data, g.data, dx.data];
  const [ws] = affine(x!, w, b, G);
  // summed whether or not they are returned: one loop without branches
  const dw = new Float64Array(ws.length);
  const db = new Float64Array(ws.length);
  const grads = () => [dx, ...(w ? [fromAcc(w, dw)] : []), ...(b ? [fromAcc(b, db)] : [])];
  if (rowsF32(G, xs, gs, ds, ws) && layerNormGradF32(xs as Float32Array, gs as Float32Array, inner, ws as Float32Array, eps, ds as Float32Array, dw, db)) return grads();
  const { mean, rstd } = stats(xs, G, eps);
  for (let k = 0; k < count; k++) {
    const mu = mean[k]!;
    const r = rstd[k]!;
    let s1 = 0;
    let s2 = 0;
    for (let blk = 0, o = k * groupStride; blk < blocks; blk++, o += blockStride) {
      const p0 = perGroup ? k : blk * inner;
      const step = perGroup ? 0 : 1;
      for (let i = o, p = p0, end = o + inner; i < end; i++, p += step) {
        const gi = gs[i]!;
        const xh = (xs[i]! - mu) * r;
        const gh = gi * ws[p]!;
        s1 += gh;
        s2 += gh * xh;
        dw[p] += gi * xh;
        db[p] += gi;
      }
    }
    const m1 = s1 / n;
    const m2 = s2 / n;
    for (let blk = 0, o = k * groupStride; blk < blocks; blk++, o += blockStride) {
      const p0 = perGroup ? k : blk * inner;
      const step = perGroup ? 0 : 1;
      for (let i = o, p = p0, end = o + inner; i < end; i++, p += step) ds[i] = r * (gs[i]! * ws[p]! - m1 - (xs[i]! - mu) * r * m2);
    }
  }
  return grads();
}

/** A parameter gradient accumulated in float64, stored in the parameter's dtype. */
function fromAcc(like: Tensor, acc: Float64Array): Tensor {
  const t = zeros(like.shape, dtypeOf(like));
  t.data.set(acc);
  return t;
}
