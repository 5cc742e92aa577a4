// Axis bookkeeping shared by the shape, reduction and normalization ops.
import { z } from 'zod';
import { copyRunsOf, ELEMENTWISE_MIN } from '../kernels/index.js';
import { dtypeOf, empty, formatShape, ShapeError, size, zeros, type Data, type Shape, type Tensor } from '../tensor.js';

/**
 * Normalizes a possibly negative axis of a tensor of shape `shape`; `rank` widens the range where an
 * op allows it (unsqueeze's new axis, torch's axis 0 / -1 on a 0-d tensor).
 */
export function axisOf(axis: number, shape: Shape, rank = shape.length): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    const range = rank === 0 ? 'it has no axes' : `expected ${-rank} … ${rank - 1}`;
    throw new ShapeError(`axis ${axis} is out of range for shape ${formatShape(shape)} (${range})`);
  }
  return a;
}

/** Normalizes a list of possibly negative axes; a repeated axis is an error (as in torch). `rank` as in axisOf. */
export function normalizeAxes(axes: readonly number[], shape: Shape, rank = shape.length): number[] {
  const out = axes.map((a) => axisOf(a, shape, rank));
  for (let i = 0; i < out.length; i++) {
    if (out.indexOf(out[i]!) !== i) throw new ShapeError(`axis ${out[i]} appears more than once in [${axes.join(', ')}]`);
  }
  return out;
}

/**
 * A tensor seen as [outer, dim, inner] around one axis, so the `dim` elements of one lane sit `inner`
 * apart. A 0-d tensor is one lane of length 1 and accepts axis 0 or -1, as torch does.
 */
export function lanes(shape: Shape, axis: number): { axis: number; outer: number; dim: number; inner: number } {
  const a = axisOf(axis, shape, Math.max(shape.length, 1));
  return { axis: a, outer: size(shape.slice(0, a)), dim: shape[a] ?? 1, inner: size(shape.slice(a + 1)) };
}

/** Calls `visit` once per lane along `axis`, with the flat index of its first element and its step. */
export function forEachLane(shape: Shape, axis: number, visit: (base: number, dim: number, step: number) => void): void {
  const { outer, dim, inner } = lanes(shape, axis);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) visit(o * dim * inner + i, dim, inner);
}

export const ReduceAttrsSchema = z.strictObject({
  axes: z
    .union([z.number().int(), z.array(z.number().int()).min(1)])
    .optional()
    .describe('axis or axes to reduce over (negative counts from the end); omit to reduce over all axes'),
  keepdims: z.boolean().default(false).describe('keep each reduced axis as a dimension of size 1 (torch keepdim)'),
});
export type ReduceAttrs = z.infer<typeof ReduceAttrsSchema>;

/** Output shape of a reduction, and the same shape with reduced axes kept as 1 (which `g` reshapes to). */
export function reducedShape(shape: Shape, attrs: ReduceAttrs): { shape: number[]; kept: number[] } {
  const raw = attrs.axes ?? shape.map((_, i) => i);
  // NOTE: torch reduces a 0-d tensor over axis 0 or -1, its one lane, and the result stays 0-d (with
  // keepdims too); [0, -1] names that axis twice, an error there as here
  const axes = normalizeAxes(typeof raw === 'number' ? [raw] : raw, shape, Math.max(shape.length, 1));
  if (shape.length === 0) return { shape: [], kept: [] };
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return { shape: attrs.keepdims ? kept : kept.filter((_, i) => !axes.includes(i)), kept };
}

/** A reduction of `x`: its output shape and the map from each element of `x` to its output element. */
export function reduction(x: Tensor, attrs: ReduceAttrs): { shape: number[]; map: Int32Array } {
  const { shape, kept } = reducedShape(x.shape, attrs);
  return { shape, map: reductionMap(x.shape, kept) };
}

/**
 * Σ of `x` over the reduction's axes, accumulated in float64, and the output's shape. A reduction to
 * one element (a loss's last sum or mean) reads `x` straight through, in the same order, without the map.
 */
export function reduceSum(x: Tensor, attrs: ReduceAttrs): { shape: number[]; acc: Float64Array } {
  const { shape, kept } = reducedShape(x.shape, attrs);
  const n = size(shape);
  if (n !== 1) return { shape, acc: sumInto(x.data, reductionMap(x.shape, kept), n) };
  const d = x.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  return { shape, acc: Float64Array.of(s) };
}

/**
 * The VJP of a sum over the reduction's axes, each element of `g` divided by `n` (a mean's count; 1 for
 * a sum) and copied back over the elements of `x` that reduced into it: one fill when `g` is one element.
 */
export function spreadBack(x: Tensor, g: Tensor, attrs: ReduceAttrs, n: number): Tensor {
  const gx = zeros(x.shape, dtypeOf(g));
  if (g.data.length === 1) {
    gx.data.fill(g.data[0]! / n);
    return gx;
  }
  const { map } = reduction(x, attrs);
  for (let i = 0; i < map.length; i++) gx.data[i] = g.data[map[i]!]! / n;
  return gx;
}

/** Σ of the elements of `x` reducing into each output element, accumulated in float64. */
export function sumInto(x: Data, map: Int32Array, n: number): Float64Array {
  const acc = new Float64Array(n);
  for (let i = 0; i < x.length; i++) acc[map[i]!] += x[i]!;
  return acc;
}

/**
 * For every element of `shape`, the flat index of the output element it reduces into (the output
 * laid out as `kept`); computed with an odometer over the rows of the last dimension, each row filled
 * in one pass (one output element, or consecutive ones), one Int32Array per call and no per-element
 * arrays.
 */
export function reductionMap(shape: Shape, kept: Shape): Int32Array {
  const n = size(shape);
  const map = new Int32Array(n);
  const rank = shape.length;
  if (n === 0 || rank === 0) return map;
  const strides = new Array<number>(rank);
  for (let d = rank - 1, acc = 1; d >= 0; d--) {
    strides[d] = kept[d] === 1 ? 0 : acc;
    acc *= kept[d]!;
  }
  const row = shape[rank - 1]!;
  const reduced = strides[rank - 1] === 0;
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < n; i += row) {
    if (reduced) {
      if (o !== 0) map.fill(o, i, i + row);
    } else for (let j = 0; j < row; j++) map[i + j] = o + j;
    for (let d = rank - 2; d >= 0; d--) {
      o += strides[d]!;
      if (++idx[d]! < shape[d]!) break;
      o -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

/** For every element of `out`, the flat index of the element of `x` (broadcast to `out`, NumPy's rules) it reads. */
export function broadcastMap(x: Shape, out: Shape): Int32Array {
  // x's dims aligned right under out's; a dim of 1 (or one x lacks) is read at stride 0
  return reductionMap(out, [...new Array<number>(out.length - x.length).fill(1), ...x]);
}

/** Checks a permutation of the axes of a tensor (negative axes allowed) and normalizes it. */
export function normalizePerm(perm: readonly number[], shape: Shape): number[] {
  if (perm.length !== shape.length) {
    throw new ShapeError(`perm [${perm.join(', ')}] has ${perm.length} axes but the input ${formatShape(shape)} has ${shape.length}`);
  }
  return normalizeAxes(perm, shape);
}

/**
 * out[i0..] = t[...] with out axis k taken from t axis perm[k]. The trailing axes the permutation leaves
 * in place are one contiguous run in both tensors (attention's head split [B, T, H, E] → [B, H, T, E]
 * moves rows of E): the odometer walks the other axes for the start of each run, then the runs are
 * copied, by the SIMD kernel where it takes them.
 */
export function permute(t: Tensor, perm: readonly number[]): Tensor {
  let rank = t.shape.length;
  const shape = perm.map((p) => t.shape[p]!);
  const out = empty(shape, dtypeOf(t));
  let run = 1;
  while (rank > 0 && perm[rank - 1] === rank - 1) run *= shape[--rank]!;
  const src = new Array<number>(rank);
  for (let d = t.shape.length - 1, acc = 1; d >= 0; d--) {
    if (d < rank) src[d] = acc;
    acc *= t.shape[d]!;
  }
  const step = perm.slice(0, rank).map((p) => src[p]!);
  const idx = new Array<number>(rank).fill(0);
  const x = t.data;
  const y = out.data;
  const n = y.length;
  if (run === 0) return out;
  // runs the SIMD kernel may take: where each starts in x, noted first and copied after
  const starts = run >= 4 && n >= ELEMENTWISE_MIN ? new Int32Array(n / run) : null;
  for (let o = 0, k = 0, i = 0; o < n; o += run, k++) {
    if (starts) starts[k] = i;
    else for (let j = 0; j < run; j++) y[o + j] = x[i + j]!;
    for (let d = rank - 1; d >= 0; d--) {
      i += step[d]!;
      if (++idx[d]! < shape[d]!) break;
      i -= step[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  if (starts && !copyRunsOf(x, y, run, starts)) {
    for (let k = 0, o = 0; k < starts.length; k++, o += run) for (let j = 0, i = starts[k]!; j < run; j++) y[o + j] = x[i + j]!;
  }
  return out;
}

/**
 * Copies `len` positions along the axis of an [outer, ·, inner] layout: from positions
 * srcStart.. of `src` (axis length srcDim) to dstStart.. of `dst` (axis length dstDim).
 * concat, slice and their VJPs are all this one block copy.
 */
export function copyAlongAxis(
  src: Data, srcDim: number, srcStart: number,
  dst: Data, dstDim: number, dstStart: number,
  len: number, outer: number, inner: number,
): void {
  const n = len * inner;
  if (n === 0) return;
  for (let o = 0; o < outer; o++) {
    const s = (o * srcDim + srcStart) * inner;
    dst.set(src.subarray(s, s + n), (o * dstDim + dstStart) * inner);
  }
}

export function shapeList(shapes: readonly Shape[]): string {
  return shapes.map(formatShape).join(', ');
}
