// 2-D pooling over the last two dims of [N, C, H, W] or [C, H, W], as torch.nn.functional. Each
// spatial axis is described once by its windows (which input indices each output index reads); a
// window of the plane is the product of a row window and a column window.
import { z } from 'zod';
import { Kept, takeBuffer } from '../../buffers.js';
import { maxPool2x2F32, maxPoolScatterF32 } from '../../kernels/pool.js';
import { dtypeOf, empty, formatShape, ShapeError, zeros, type Data, type Tensor } from '../../tensor.js';
import { eachDim, perDim, planes } from './spatial.js';

/** One axis: output i reads the input indices first[i] + t·step for t < taps[i], all inside the input. */
export interface AxisWindows {
  first: Int32Array;
  taps: Int32Array;
  step: number;
  /** this axis's factor of an average's divisor */
  divisor: Float64Array;
}

const windows = (n: number, step: number): AxisWindows => ({
  first: new Int32Array(n),
  taps: new Int32Array(n),
  step,
  divisor: new Float64Array(n),
});

/** torch's pooling output size (pooling_output_shape): with ceilMode, a last window must start inside the input or its left padding. */
export function pooledSize(input: number, kernel: number, stride: number, pad: number, dilation: number, ceilMode: boolean): number {
  const span = input + 2 * pad - dilation * (kernel - 1) - 1;
  let out = Math.floor((span + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= input + pad) out--;
  return out;
}

/**
 * Sliding windows of `kernel` taps `dilation` apart, `stride` apart, over an input padded by `pad`.
 * The divisor is torch's avg_pool2d's: the window clipped to the padded input (countIncludePad) or to
 * the input itself.
 */
export function slidingWindows(input: number, out: number, kernel: number, stride: number, pad: number, dilation: number, countIncludePad: boolean): AxisWindows {
  const w = windows(out, dilation);
  for (let i = 0; i < out; i++) {
    const start = i * stride - pad;
    const t0 = start < 0 ? Math.ceil(-start / dilation) : 0;
    const t1 = Math.min(kernel, Math.ceil((input - start) / dilation));
    w.first[i] = start + t0 * dilation;
    w.taps[i] = Math.max(0, t1 - t0);
    w.divisor[i] = countIncludePad ? Math.min(start + kernel, input + pad) - start : w.taps[i]!;
  }
  return w;
}

/** torch's adaptive windows: output i of `out` averages input indices floor(i·in/out) … ceil((i + 1)·in/out) − 1. */
export function adaptiveWindows(input: number, out: number): AxisWindows {
  const w = windows(out, 1);
  for (let i = 0; i < out; i++) {
    w.first[i] = Math.floor((i * input) / out);
    w.taps[i] = Math.ceil(((i + 1) * input) / out) - w.first[i]!;
    w.divisor[i] = w.taps[i]!;
  }
  return w;
}

/** The output shape and windows of a pooling of x. */
export interface Pooling {
  shape: number[];
  planes: number;
  h: number;
  w: number;
  rows: AxisWindows;
  cols: AxisWindows;
}

/** Attributes of max_pool2d and avg_pool2d, torch's names in camelCase and its defaults. */
export const slidingAttrs = {
  kernelSize: perDim(2, 1, 'window size (torch kernel_size)'),
  stride: perDim(2, 1, 'step between windows; omit for the window size (torch default)').optional(),
  padding: perDim(2, 0, 'implicit padding on both sides, at most half the window').default(0),
  ceilMode: z.boolean().default(false).describe('round the output size up (a last, partial window), as torch ceil_mode'),
};

/** torch's check that padding is at most half the window, per dim. */
export function padWithinHalfKernel(a: { kernelSize: number | number[]; padding: number | number[] }, ctx: z.RefinementCtx): void {
  const k = eachDim(a.kernelSize, 2);
  if (eachDim(a.padding, 2).some((p, i) => p > Math.floor(k[i]! / 2))) {
    ctx.addIssue({ code: 'custom', message: `padding must be at most half the kernel size ${formatShape(k)} (as torch)`, path: ['padding'] });
  }
}

interface SlidingAttrs {
  kernelSize: number | number[];
  stride?: number | number[] | undefined;
  padding: number | number[];
  dilation?: number | number[];
  ceilMode: boolean;
  countIncludePad?: boolean;
}

export function slidingPooling(name: string, x: readonly number[], attrs: SlidingAttrs): Pooling {
  const p = planes(name, x);
  const k = eachDim(attrs.kernelSize, 2);
  const s = eachDim(attrs.stride ?? attrs.kernelSize, 2);
  const pad = eachDim(attrs.padding, 2);
  const d = eachDim(attrs.dilation ?? 1, 2);
  const out = [p.h, p.w].map((n, i) => pooledSize(n, k[i]!, s[i]!, pad[i]!, d[i]!, attrs.ceilMode));
  if (out.some((o) => o < 1)) {
    throw new ShapeError(`${name}: the window ${formatShape(k)} (dilation ${formatShape(d)}) does not fit the input ${formatShape(x.slice(-2))} padded by ${formatShape(pad)}`, 0);
  }
  const [rows, cols] = [p.h, p.w].map((n, i) => slidingWindows(n, out[i]!, k[i]!, s[i]!, pad[i]!, d[i]!, attrs.countIncludePad ?? true));
  return { ...p, shape: [...x.slice(0, -2), ...out], rows: rows!, cols: cols! };
}

// The loops below are written out in full, without a callback per window: a closure call per output
// element cost more than the window's own work.

/**
 * The flat index in x of each output's maximum: the first in row-major window order, and a NaN over
 * any number (each NaN replaces the maximum so far, torch's rule `val > max || isnan(val)`).
 */
function argmax(p: Pooling, x: Data, arg = indices(p)): Int32Array {
  const { rows, cols, h, w } = p;
  const [oh, ow] = [rows.first.length, cols.first.length];
  if (isTwoByTwo(rows) && isTwoByTwo(cols)) return argmax2x2(p, x, arg);
  const [rowStep, colStep] = [rows.step * w, cols.step];
  let o = 0;
  for (let q = 0; q < p.planes; q++) {
    for (let r = 0; r < oh; r++) {
      const row0 = q * h * w + rows.first[r]! * w;
      const rn = rows.taps[r]!;
      for (let c = 0; c < ow; c++, o++) {
        const cn = cols.taps[c]!;
        let best = -Infinity;
        let where = -1;
        for (let i = 0, k0 = row0 + cols.first[c]!; i < rn; i++, k0 += rowStep) {
          for (let j = 0, k = k0; j < cn; j++, k += colStep) {
            const v = x[k]!;
            if (v > best || v !== v || where < 0) {
              best = v;
              where = k;
            }
          }
        }
        arg[o] = where;
      }
    }
  }
  return arg;
}

/** Room for each output's index, from the buffer cache inside a `recycling` call (see argmaxOf). */
function indices(p: Pooling): Int32Array {
  const n = p.planes * p.rows.first.length * p.cols.first.length;
  const buf = takeBuffer(n * 4, false);
  return buf ? new Int32Array(buf) : new Int32Array(n);
}

/** Every window of the axis is two adjacent elements (kernel 2 without dilation, none cut by the edge). */
const isTwoByTwo = (a: AxisWindows) => a.step === 1 && a.taps.every((t) => t === 2);

/** ... and window i starts at 2i (stride 2, no padding): max_pool2d(2), which the wasm kernel takes. */
const isHalving = (a: AxisWindows) => isTwoByTwo(a) && a.first.every((f, i) => f === 2 * i);

/** argmax when every window is 2 × 2 (the common max_pool2d(2)), its four taps written out in the same order. */
function argmax2x2(p: Pooling, x: Data, arg: Int32Array): Int32Array {
  const { rows, cols, h, w } = p;
  const [oh, ow] = [rows.first.length, cols.first.length];
  let o = 0;
  for (let q = 0; q < p.planes; q++) {
    for (let r = 0; r < oh; r++) {
      const row0 = q * h * w + rows.first[r]! * w;
      for (let c = 0; c < ow; c++, o++) {
        const k = row0 + cols.first[c]!;
        let best = x[k]!;
        let where = k;
        let v = x[k + 1]!;
        if (v > best || v !== v) {
          best = v;
          where = k + 1;
        }
        v = x[k + w]!;
        if (v > best || v !== v) {
          best = v;
          where = k + w;
        }
        v = x[k + w + 1]!;
        if (v > best || v !== v) where = k + w + 1;
        arg[o] = where;
      }
    }
  }
  return arg;
}

// NOTE (speed): finding each window's maximum is most of max pooling's work, so the forward pass keeps
// where they are beside its output (as torch saves the indices) for the backward pass, with the x they
// were found in: given that output and that very x (the engine's VJP call), the indices are this
// forward's and are used as they are; for an output it did not make or another x, they are found
// again (buffers.ts Kept: only during the `recycling` call that kept them).
const argmaxOf = new Kept<Tensor, { x: Data; arg: Int32Array }>();

export function maxForward(p: Pooling, x: Tensor): Tensor {
  const y = empty(p.shape, dtypeOf(x));
  const arg = indices(p);
  const [oh, ow] = [p.rows.first.length, p.cols.first.length];
  const simd = x.data instanceof Float32Array && isHalving(p.rows) && isHalving(p.cols) &&
    maxPool2x2F32(x.data, p.planes, p.h, p.w, oh, ow, y.data as Float32Array, arg);
  if (!simd) gather(x.data, argmax(p, x.data, arg), y.data);
  argmaxOf.keep(y, { x: x.data, arg });
  return y;
}

// the loops in functions of their own, optimized apart (see the NOTE in conv.ts)
function gather(x: Data, arg: Int32Array, y: Data): void {
  for (let o = 0; o < y.length; o++) y[o] = x[arg[o]!]!;
}

function scatterAdd(g: Data, arg: Int32Array, dx: Data): void {
  for (let o = 0; o < g.length; o++) dx[arg[o]!] += g[o]!;
}

export function maxVjp(p: Pooling, x: Tensor, out: Tensor, g: Tensor): Tensor {
  const kept = argmaxOf.get(out);
  const current = kept && kept.x === x.data && kept.arg.length === out.data.length;
  const arg = current ? kept.arg : argmax(p, x.data);
  const dx = empty(x.shape, dtypeOf(x));
  if (dx.data instanceof Float32Array && g.data instanceof Float32Array && maxPoolScatterF32(g.data, arg, p.planes, p.h * p.w, dx.data)) return dx;
  dx.data.fill(0);
  scatterAdd(g.data, arg, dx.data);
  return dx;
}

/**
 * Average pooling's forward (`into` null: y[o] = Σ window / divisor) or backward (g spread over each
 * window by its divisor, added into `into`). `divisor` replaces the windows' own (torch divisor_override).
 */
function average(p: Pooling, from: Data, to: Data, backward: boolean, divisor?: number): void {
  const { rows, cols, h, w } = p;
  const [oh, ow] = [rows.first.length, cols.first.length];
  let o = 0;
  for (let q = 0; q < p.planes; q++) {
    for (let r = 0; r < oh; r++) {
      const row0 = q * h * w + rows.first[r]! * w;
      const rn = rows.taps[r]!;
      for (let c = 0; c < ow; c++, o++) {
        const cn = cols.taps[c]!;
        const d = divisor ?? rows.divisor[r]! * cols.divisor[c]!;
        if (backward) {
          const v = from[o]! / d;
          for (let i = 0, k0 = row0 + cols.first[c]!; i < rn; i++, k0 += w) for (let j = 0; j < cn; j++) to[k0 + j] += v;
        } else {
          let s = 0;
          for (let i = 0, k0 = row0 + cols.first[c]!; i < rn; i++, k0 += w) for (let j = 0; j < cn; j++) s += from[k0 + j]!;
          to[o] = s / d;
        }
      }
    }
  }
}

export function avgForward(p: Pooling, x: Tensor, divisor?: number): Tensor {
  const y = empty(p.shape, dtypeOf(x));
  average(p, x.data, y.data, false, divisor);
  return y;
}

export function avgVjp(p: Pooling, x: Tensor, g: Tensor, divisor?: number): Tensor {
  const dx = zeros(x.shape, dtypeOf(x));
  average(p, g.data, dx.data, true, divisor);
  return dx;
}
