// Dense row-major tensors over Float32Array / Float64Array, with NumPy broadcasting.
// Tensors are plain objects so they cross thread boundaries by transferring `data.buffer`.
import { takeBuffer } from './buffers.js';
import { stopIfCancelled } from './cancel.js';
import { addF32, sumSquaresF32, sumTilesF32 } from './kernels/index.js';
import { float32Number } from './float32-text.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];
export type Data = Float32Array | Float64Array;

export interface Tensor {
  readonly shape: Shape;
  readonly data: Data;
}

/** A tensor, as opposed to a map of them or a number. */
export function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && Array.isArray((v as Tensor).shape) && ArrayBuffer.isView((v as Tensor).data);
}

/** Thrown by shape rules; the graph compiler turns it into an error naming the node. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  /** index of the offending input, when the rule knows it */
  constructor(message: string, readonly input?: number) {
    super(message);
  }
}

export function size(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function dtypeOf(t: Tensor | Data): DType {
  const data = ArrayBuffer.isView(t) ? t : t.data;
  return data instanceof Float32Array ? 'float32' : 'float64';
}

/** A zero-filled array; inside `recycling` (buffers.ts) its memory may be reused from an earlier call. */
export function allocData(n: number, dtype: DType): Data {
  return alloc(n, dtype, true);
}

/**
 * An array the caller fills completely before reading it (an op's output written element by element,
 * a GEMM result with beta = 0): reused memory is not cleared first, so its contents are unspecified.
 */
export function emptyData(n: number, dtype: DType): Data {
  return alloc(n, dtype, false);
}

function alloc(n: number, dtype: DType, clear: boolean): Data {
  const buf = takeBuffer(n * (dtype === 'float32' ? 4 : 8), clear);
  if (buf) return dtype === 'float32' ? new Float32Array(buf) : new Float64Array(buf);
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

export function zeros(shape: Shape, dtype: DType): Tensor {
  return { shape: [...shape], data: allocData(size(shape), dtype) };
}

/** A tensor the caller fills completely before reading it (see emptyData). */
export function empty(shape: Shape, dtype: DType): Tensor {
  return { shape: [...shape], data: emptyData(size(shape), dtype) };
}

export function full(shape: Shape, value: number, dtype: DType): Tensor {
  const t = zeros(shape, dtype);
  t.data.fill(value);
  return t;
}

export function scalar(value: number, dtype: DType): Tensor {
  return full([], value, dtype);
}

export function tensor(shape: Shape, values: ArrayLike<number>, dtype: DType = 'float64'): Tensor {
  if (values.length !== size(shape)) {
    throw new ShapeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const data = allocData(values.length, dtype);
  data.set(values);
  return { shape: [...shape], data };
}

export function like(t: Tensor, shape: Shape = t.shape): Tensor {
  return zeros(shape, dtypeOf(t));
}

export function clone(t: Tensor): Tensor {
  return { shape: [...t.shape], data: t.data.slice() };
}

export function cast(t: Tensor, dtype: DType): Tensor {
  if (dtypeOf(t) === dtype) return t;
  const data = allocData(t.data.length, dtype);
  data.set(t.data);
  return { shape: t.shape, data };
}

export function reshape(t: Tensor, shape: Shape): Tensor {
  if (size(shape) !== t.data.length) {
    throw new ShapeError(`cannot reshape [${t.shape.join(', ')}] to [${shape.join(', ')}]`);
  }
  return { shape: [...shape], data: t.data };
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** What is wrong with a finite number that float32 holds as ±Infinity, which a float32 computation refuses. */
export const BEYOND_FLOAT32 = 'is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"';

/**
 * Element `i` of `data`, for error messages, as the answers print its dtype: a float32 as the shortest
 * decimal that reads back as it (the 0.1 the client sent, not 0.10000000149011612).
 */
export function formatElement(data: Data, i: number): string {
  const v = data[i]!;
  return data instanceof Float32Array && Number.isFinite(v) ? String(float32Number(v)) : String(v);
}

/** Normalizes a possibly negative axis for a tensor of rank `rank`. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(`axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** NumPy broadcasting of any number of shapes. */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let k = 0; k < shapes.length; k++) {
    const s = shapes[k]!;
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else {
        throw new ShapeError(
          `shapes ${shapes.map(formatShape).join(' and ')} cannot be broadcast together (dimension ${o}: ${out[o]} vs ${d})`,
          k,
        );
      }
    }
  }
  return out;
}

/** Strides of `shape` viewed as broadcast to `target` (0 where the dimension is broadcast). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = target.length - shape.length + i;
    out[o] = shape[i] === 1 ? 0 : own[i]!;
  }
  return out;
}

const STOP_CHECK_ELEMENTS = 1 << 16;

/**
 * Walks `shape` in row-major order a row (its last dimension) at a time, with an odometer over the
 * other dimensions (no recursion, no per-element call): `row` gets the flat offset of the row's first
 * element, the offsets of the two operands with the given strides there, the row's length, and the two
 * operands' strides along the row (0 where an operand is broadcast). A rank-0 shape is one row of one.
 * A computation asked to stop (engine/cancel.ts) stops between rows, every STOP_CHECK_ELEMENTS or so:
 * a broadcast over tens of millions of elements runs for a good part of a second.
 */
export function forEachRow(
  shape: Shape,
  sa: readonly number[],
  sb: readonly number[],
  row: (o: number, ia: number, ib: number, len: number, stepA: number, stepB: number) => void,
): void {
  const rank = shape.length;
  const n = size(shape);
  if (n === 0) return;
  const [len, stepA, stepB] = rank === 0 ? [1, 0, 0] : [shape[rank - 1]!, sa[rank - 1]!, sb[rank - 1]!];
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  let check = STOP_CHECK_ELEMENTS;
  for (let o = 0; o < n; o += len) {
    if (o >= check) {
      stopIfCancelled();
      check = o + STOP_CHECK_ELEMENTS;
    }
    row(o, ia, ib, len, stepA, stepB);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ia += sa[d]!;
      ib += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= sa[d]! * shape[d]!;
      ib -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * Sums a gradient of a broadcast result back to the shape of the input that was broadcast.
 * The engine calls this once for every VJP output, so VJP rules never un-broadcast themselves.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  if (size(shape) === g.data.length) return reshape(g, shape);
  const out = zeros(shape, dtypeOf(g));
  const src = g.data;
  const dst = out.data;
  // a bias or a positional table repeated along g's leading dims: its copies summed on the SIMD kernel
  if (src instanceof Float32Array && dst instanceof Float32Array && tiles(shape, g.shape) && sumTilesF32(src, dst)) return out;
  const target = broadcastStrides(shape, g.shape);
  forEachRow(g.shape, target, target, (o, io, _, len, step) => {
    if (step === 0) {
      // the row sums into one element
      let s = 0;
      for (let j = 0; j < len; j++) s += src[o + j]!;
      dst[io] += s;
    } else {
      for (let j = 0; j < len; j++) dst[io + j * step] += src[o + j]!;
    }
  });
  return out;
}

/** a + b for tensors of one shape, on a new buffer (recycled inside `recycling`): one pass over both. */
export function added(a: Tensor, b: Tensor): Tensor {
  const out = empty(a.shape, dtypeOf(a));
  const [x, y, z] = [a.data, b.data, out.data];
  if (x instanceof Float32Array && y instanceof Float32Array && z instanceof Float32Array && addF32(x, y, z)) return out;
  for (let i = 0; i < z.length; i++) z[i] = x[i]! + y[i]!;
  return out;
}

/** In-place `acc += g` for tensors of one shape; used to accumulate adjoints. */
export function addInto(acc: Tensor, g: Tensor): void {
  const a = acc.data;
  const b = g.data;
  if (a instanceof Float32Array && b instanceof Float32Array && addF32(a, b, a)) return;
  for (let i = 0; i < a.length; i++) a[i] += b[i]!;
}

/** Whether `s`, leading 1s aside, is the last dims of `out` (so it repeats whole along out's others). */
export function tiles(s: Shape, out: Shape): boolean {
  let i = 0;
  while (i < s.length && s[i] === 1) i++;
  const k = s.length - i;
  return k > 0 && sameShape(s.slice(i), out.slice(out.length - k));
}

/** Sum of squares, accumulated in float64; float32 from ELEMENTWISE_MIN elements by the kernels (kernels/index.ts sumSquaresF32). */
export function sumSquares(t: Tensor): number {
  const d = t.data;
  const s = d instanceof Float32Array ? sumSquaresF32(d) : null;
  return s ?? sumOfProducts(d, 1);
}

export function allFinite(t: Tensor): boolean {
  return firstNonFinite(t.data) < 0;
}

/**
 * The index of the first NaN or ±∞ in `d`, or −1. A sum that is finite only when every element is
 * answers first: a sum of squares for float32 (kernels' sumSquaresF32), Σx·(x·0) otherwise (NaN
 * for NaN or ±∞, ±0 for anything finite); only when it is not finite are the elements walked.
 */
export function firstNonFinite(d: Data): number {
  const s = d instanceof Float32Array ? sumSquaresF32(d) : null;
  if (s !== null ? Number.isFinite(s) : sumOfProducts(d, 0) === 0) return -1;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return i;
  return -1;
}

/**
 * Σ x·(x·k) in float64: the sum of squares for k = 1, ±0 or NaN for k = 0. Four running sums: one would
 * wait on the previous add every element.
 */
function sumOfProducts(d: Data, k: 0 | 1): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = d.length - (d.length % 4);
  for (let i = 0; i < n4; i += 4) {
    s0 += d[i]! * (d[i]! * k);
    s1 += d[i + 1]! * (d[i + 1]! * k);
    s2 += d[i + 2]! * (d[i + 2]! * k);
    s3 += d[i + 3]! * (d[i + 3]! * k);
  }
  for (let i = n4; i < d.length; i++) s0 += d[i]! * (d[i]! * k);
  return s0 + s1 + (s2 + s3);
}
