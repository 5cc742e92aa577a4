// Convolution as torch.nn.functional.conv1d / conv2d, through the GEMM kernels: for each block of
// samples and group, the receptive fields are unrolled into the columns of a matrix (im2col, in
// WebAssembly: src/engine/kernels/im2col.ts) and multiplied by the group's weights; the input's gradient
// is the transposed product folded back (col2im). A 1-D convolution is a 2-D one of height 1.
import { z } from 'zod';
import { stopIfCancelled } from '../../cancel.js';
import { convWeightGradF32 } from '../../kernels/conv-direct.js';
import { im2colSpace } from '../../kernels/im2col.js';
import { gemm } from '../../kernels/index.js';
import { defineOp, type Op } from '../../op.js';
import { MAX_CHUNKS, startPart } from '../../split.js';
import { eachDim, MAX_WINDOW, perDim } from './spatial.js';
import { dtypeOf, empty, emptyData, formatShape, ShapeError, size, zeros, type Data, type DType, type Shape, type Tensor } from '../../tensor.js';

function convAttrs(dims: number) {
  return z
    .strictObject({
      stride: perDim(dims, 1, 'step between windows (torch stride)').default(1),
      padding: z
        .union([perDim(dims, 0, 'zeros added on both sides'), z.enum(['same', 'valid'])])
        .default(0)
        .describe(
          'zeros added on both sides (int or one per dimension), or "valid" (none) or "same" (output as large as the input; stride 1 only; any odd total goes after, as torch)',
        ),
      dilation: perDim(dims, 1, 'spacing between kernel taps (torch dilation)').default(1),
      groups: z
        .number()
        .int()
        .min(1)
        .default(1)
        .describe('input and output channels are split into this many groups, each convolved apart (groups = channels is depthwise)'),
    })
    .superRefine((a, ctx) => {
      if (a.padding === 'same' && eachDim(a.stride, dims).some((s) => s !== 1)) {
        ctx.addIssue({ code: 'custom', message: 'padding "same" needs stride 1 (as torch)', path: ['padding'] });
      }
    });
}
type ConvAttrs = z.output<ReturnType<typeof convAttrs>>;

/** Everything a pass needs: sizes of the 2-D problem (a 1-D one has h = kh = 1), and torch's output size. */
export interface ConvGeometry {
  /** output shape */
  shape: number[];
  n: number; c: number; h: number; w: number; o: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  oh: number; ow: number; groups: number;
  /** input and output channels per group */
  cg: number; og: number;
  /** rows of the unrolled matrix: cg·kh·kw */
  k: number;
  /** some tap falls outside the input (padding before, or "same"'s after): the unrolled matrix has zeros */
  padded: boolean;
}

function geometry(name: string, dims: 1 | 2, [x, wt, b]: Shape[], attrs: ConvAttrs): ConvGeometry {
  const layout = dims === 1 ? '[N, C, L] or [C, L]' : '[N, C, H, W] or [C, H, W]';
  if (x!.length !== dims + 1 && x!.length !== dims + 2) {
    throw new ShapeError(`${name}: input must be ${layout}, got ${formatShape(x!)}`, 0);
  }
  if (wt!.length !== dims + 2) {
    const want = dims === 1 ? '[out_channels, in_channels / groups, kL]' : '[out_channels, in_channels / groups, kH, kW]';
    throw new ShapeError(`${name}: weight must be ${want}, got ${formatShape(wt!)}`, 1);
  }
  const batched = x!.length === dims + 2;
  const [n, c] = batched ? [x![0]!, x![1]!] : [1, x![0]!];
  const spatial = x!.slice(-dims);
  const [o, cg] = wt as [number, number];
  const { groups } = attrs;
  if (c % groups !== 0 || o % groups !== 0) {
    throw new ShapeError(`${name}: groups ${groups} must divide both the input's ${c} channels and the weight's ${o} output channels`, c % groups !== 0 ? 0 : 1);
  }
  if (cg !== c / groups) {
    throw new ShapeError(`${name}: weight ${formatShape(wt!)} must have in_channels / groups = ${c / groups} in dim 1 for input ${formatShape(x!)}`, 1);
  }
  if (b && !(b.length === 1 && b[0] === o)) throw new ShapeError(`${name}: bias must have shape [${o}], got ${formatShape(b)}`, 2);
  const kernel = wt!.slice(2);
  const stride = eachDim(attrs.stride, dims);
  const dilation = eachDim(attrs.dilation, dims);
  const extent = kernel.map((k, i) => dilation[i]! * (k - 1) + 1);
  const far = extent.findIndex((e) => e > MAX_WINDOW);
  if (far >= 0) {
    throw new ShapeError(
      `${name}: the dilated kernel reaches dilation·(k − 1) + 1 = ${extent[far]} elements along spatial dimension ${far}, more than ${MAX_WINDOW}`,
      1,
    );
  }
  // NOTE: "same" pads the total dilation·(k − 1) with the odd one after, as torch does
  const pad = attrs.padding === 'same' ? extent.map((e) => Math.floor((e - 1) / 2)) : eachDim(attrs.padding === 'valid' ? 0 : attrs.padding, dims);
  const out = spatial.map((d, i) =>
    attrs.padding === 'same' ? d : Math.floor((d + 2 * pad[i]! - extent[i]!) / stride[i]!) + 1,
  );
  if (out.some((d) => d < 1) || kernel.some((k) => k < 1)) {
    throw new ShapeError(
      `${name}: kernel ${formatShape(kernel)} (dilated ${formatShape(extent)}) does not fit the input ${formatShape(spatial)} padded by ${formatShape(pad)}`,
      0,
    );
  }
  const two = (v: number[], fill: number) => (dims === 1 ? [fill, v[0]!] : v);
  const [h, w] = two(spatial, 1);
  const [kh, kw] = two(kernel, 1);
  const [sh, sw] = two(stride, 1);
  const [ph, pw] = two(pad, 0);
  const [dh, dw] = two(dilation, 1);
  const [oh, ow] = two(out, 1);
  return {
    shape: batched ? [n, o, ...out] : [o, ...out],
    n, c, h: h!, w: w!, o, kh: kh!, kw: kw!, sh: sh!, sw: sw!, ph: ph!, pw: pw!, dh: dh!, dw: dw!, oh: oh!, ow: ow!,
    groups, cg, og: o / groups, k: cg * kh! * kw!,
    padded: ph! > 0 || pw! > 0 || (oh! - 1) * sh! + (kh! - 1) * dh! >= h! || (ow! - 1) * sw! + (kw! - 1) * dw! >= w!,
  };
}

/** The output indices [lo, hi) whose input index o·stride + off lies inside [0, n). */
function inside(off: number, stride: number, n: number, out: number): [number, number] {
  const lo = Math.min(out, Math.max(0, Math.ceil(-off / stride)));
  return [lo, Math.min(out, Math.max(lo, Math.ceil((n - off) / stride)))];
}

/**
 * The JS im2col, used when build/gemm.wasm cannot be loaded (the same runs as
 * src/engine/kernels/wasm/assembly/im2col.ts): unrolls output rows [y0, y1) of one sample's group, whose
 * channels start at x[at], into cols from column c0, rows ld apart: row (ch·kh + i)·kw + j holds the
 * tap (i, j) of channel ch for every output position. Taps in the padding are left as they are (the
 * caller zeroes the matrix). With `fold`, the reverse (col2im): cols is added back into x, each input
 * element receiving the sum over the taps that read it.
 */
function unroll(g: ConvGeometry, x: Data, at: number, cols: Data, c0: number, ld: number, y0: number, y1: number, fold: boolean): void {
  const { h, w, kh, kw, sh, sw, ph, pw, dh, dw, ow, cg } = g;
  // an output row as wide as an input row, stride 1: a tap's rows are one shifted run of x
  const contiguous = sh === 1 && sw === 1 && ow === w;
  let r = c0;
  for (let ch = 0; ch < cg; ch++) {
    const plane = at + ch * h * w;
    for (let i = 0; i < kh; i++) {
      const [ylo, yhi] = inside(i * dh - ph, sh, h, y1);
      for (let j = 0; j < kw; j++, r += ld) {
        const off = j * dw - pw;
        const [lo, hi] = inside(off, sw, w, ow);
        if (!fold && contiguous && ylo < yhi) {
          copyShifted(x, plane + (ylo - ph + i * dh) * w + off, cols, r + (Math.max(y0, ylo) - y0) * ow, Math.max(y0, ylo), yhi, ylo, ow, lo, hi);
          continue;
        }
        for (let y = Math.max(y0, ylo), o = r + (y - y0) * ow; y < yhi; y++, o += ow) {
          const src = plane + (y * sh - ph + i * dh) * w + off + lo * sw;
          const start = o + lo;
          const end = o + hi;
          if (fold) for (let t = start, s = src; t < end; t++, s += sw) x[s] += cols[t]!;
          else if (sw === 1) for (let t = start, s = src; t < end; t++, s++) cols[t] = x[s]!;
          else for (let t = start, s = src; t < end; t++, s += sw) cols[t] = x[s]!;
        }
      }
    }
  }
}

/**
 * A tap's rows [ya, yb) of the band when output and input rows have the same width and stride 1: the
 * valid part is x shifted, copied as one run from the first valid element to the last (starting at
 * x[src + lo] for row ylo, band offset `at` for row ya); the run's elements that fell across a row's
 * edge into its neighbour (columns outside [lo, hi)) are then zeroed.
 */
function copyShifted(x: Data, src: number, cols: Data, at: number, ya: number, yb: number, ylo: number, ow: number, lo: number, hi: number): void {
  if (lo >= hi) return;
  const from = src + (ya - ylo) * ow;
  cols.set(x.subarray(from + lo, from + (yb - ya - 1) * ow + hi), at + lo);
  for (let y = ya, o = at; y < yb; y++, o += ow) {
    if (y > ya) for (let t = o; t < o + lo; t++) cols[t] = 0;
    if (y < yb - 1) for (let t = o + hi; t < o + ow; t++) cols[t] = 0;
  }
}

// The unrolled matrix of a sample is k × oh·ow, up to kh·kw times the input: beyond this many elements
// it is made a band of output rows at a time, so a large kernel over a large image stays bounded.
const MAX_COLS = 1 << 20;
// While a sample's unrolled matrix is smaller than this, several samples' lie side by side in one of
// about this size: each GEMM is that much wider, and there are that many fewer.
const BLOCK_COLS = 1 << 18;

/** Columns of the unrolled matrix for a band of `rows` output rows of one sample. */
const bandWidth = (g: ConvGeometry, rows: number) => rows * g.ow;

/** Samples per unrolled matrix, and output rows per band (all of them, or bands of one sample). */
interface Blocking {
  samples: number;
  rows: number;
}

function blocking(g: ConvGeometry): Blocking {
  const whole = g.k * bandWidth(g, g.oh);
  if (whole > MAX_COLS) return { samples: 1, rows: Math.max(1, Math.floor(MAX_COLS / (g.k * g.ow))) };
  return { samples: Math.max(1, Math.min(g.n, Math.floor(BLOCK_COLS / whole))), rows: g.oh };
}

/**
 * Where a block of samples is unrolled: cols (k × ld, ld = the block's samples × band width) and out
 * (og × ld, a product or gy's band laid out as cols' columns), in WebAssembly memory with its kernels
 * (src/engine/kernels/im2col.ts), or without it in JS arrays with the loops above.
 */
interface Space {
  cols: Data;
  out: Data;
  /** samples [s0, s0 + n) become the block that `unroll` reads (x) and folds into (dx) */
  enter(s0: number, n: number): void;
  /** the block's folded gradient goes back into dx */
  leave(): void;
  unroll(fold: boolean, group: number, ld: number, y0: number, y1: number): void;
  /** Σ out[at, at + n), in float64 whatever the dtype */
  sumOut(at: number, n: number): number;
}

function openSpace(g: ConvGeometry, blk: Blocking, x: Data | null, dx: Data | null, dtype: DType): Space {
  const sample = g.c * g.h * g.w;
  const ld = blk.samples * bandWidth(g, blk.rows);
  const sizes = [x ? blk.samples * sample : 0, dx ? blk.samples * sample : 0, g.k * ld, g.og * ld] as const;
  const groupAt = (group: number) => group * g.cg * g.h * g.w;
  let [s0, n] = [0, 0];
  const ws = im2colSpace(dtype, sizes);
  if (ws) {
    return {
      cols: ws.cols,
      out: ws.out,
      enter(first, count) {
        [s0, n] = [first, count];
        if (x) ws.x.set(x.subarray(s0 * sample, (s0 + n) * sample));
        if (dx) ws.dx.set(dx.subarray(s0 * sample, (s0 + n) * sample));
      },
      leave() {
        if (dx) dx.set(ws.dx.subarray(0, n * sample), s0 * sample);
      },
      sumOut: ws.sumOut ?? ((at, n) => sumRun(ws.out, at, n)),
      unroll(fold, group, ld, y0, y1) {
        ws.unroll(fold, fold ? ws.dx : ws.x, groupAt(group), sample, n, ld, bandWidth(g, y1 - y0), g, y0, y1);
      },
    };
  }
  const cols = emptyData(sizes[2], dtype);
  const out = emptyData(sizes[3], dtype);
  return {
    cols,
    out,
    sumOut: (at, n) => sumRun(out, at, n),
    enter(first, count) {
      [s0, n] = [first, count];
    },
    leave() {},
    unroll(fold, group, ld, y0, y1) {
      const width = bandWidth(g, y1 - y0);
      // only taps in the padding read outside x: zero the matrix once, then copy what lies inside
      if (!fold && g.padded) cols.fill(0, 0, g.k * ld);
      for (let s = 0; s < n; s++) unroll(g, (fold ? dx : x)!, (s0 + s) * sample + groupAt(group), cols, s * width, ld, y0, y1, fold);
    },
  };
}

/** Calls `visit` for each block of samples, group and band of output rows, between the block's enter and leave. */
function eachBlock(g: ConvGeometry, blk: Blocking, space: Space, visit: (s0: number, n: number, group: number, y0: number, y1: number) => void): void {
  for (let s0 = 0; s0 < g.n; s0 += blk.samples) {
    const n = Math.min(blk.samples, g.n - s0);
    space.enter(s0, n);
    for (let grp = 0; grp < g.groups; grp++) {
      for (let y0 = 0; y0 < g.oh; y0 += blk.rows) {
        stopIfCancelled();
        visit(s0, n, grp, y0, Math.min(g.oh, y0 + blk.rows));
      }
    }
    space.leave();
  }
}

/** Offset of output row y0 of channel group·og in sample s, in the output (and its gradient). */
const outAt = (g: ConvGeometry, s: number, group: number, y0: number) => (s * g.o + group * g.og) * g.oh * g.ow + y0 * g.ow;

/**
 * Copies a block's band between `band` (og × ld, laid out as the unrolled matrix's columns) and the
 * output or its gradient t: into t, or (`toBand`) from t.
 */
function moveBand(g: ConvGeometry, band: Data, ld: number, t: Data, s0: number, n: number, grp: number, y0: number, y1: number, toBand: boolean): void {
  const width = bandWidth(g, y1 - y0);
  const run = (y1 - y0) * g.ow;
  for (let s = 0; s < n; s++) {
    for (let ch = 0; ch < g.og; ch++) {
      const at = outAt(g, s0 + s, grp, y0) + ch * g.oh * g.ow;
      const from = ch * ld + s * width;
      if (toBand) band.set(t.subarray(at, at + run), from);
      else t.set(band.subarray(from, from + run), at);
    }
  }
}

/** A convolution's operands and results for some of its samples (null where not needed). */
interface ConvData {
  x: Data | null;
  wt: Data | null;
  b: Data | null;
  gy: Data | null;
  /** the output (forward) */
  y: Data | null;
  /** the gradients (backward), added to: dx by col2im's sums, dw and the bias's sums over blocks */
  dx: Data | null;
  dw: Data | null;
  sums: Float64Array | null;
}

type Mode = 'forward' | 'vjp';

function forwardPart(g: ConvGeometry, { x, wt, b, y }: ConvData): void {
  const dtype = dtypeOf(x!);
  const blk = blocking(g);
  const space = openSpace(g, blk, x, null, dtype);
  eachBlock(g, blk, space, (s0, n, grp, y0, y1) => {
    const ld = n * bandWidth(g, y1 - y0);
    space.unroll(false, grp, ld, y0, y1);
    // the bias is where the product accumulates
    if (b) for (let ch = 0; ch < g.og; ch++) space.out.fill(b[grp * g.og + ch]!, ch * ld, (ch + 1) * ld);
    gemm(false, false, g.og, ld, g.k, 1, wt!.subarray(grp * g.og * g.k), g.k, space.cols, ld, b ? 1 : 0, space.out, ld);
    moveBand(g, space.out, ld, y!, s0, n, grp, y0, y1, false);
  });
}

function vjpPart(g: ConvGeometry, { x, wt, gy, dx, dw, sums }: ConvData): void {
  // one input channel a group, stride 1 along rows: dW and the bias sums without unrolling
  const direct = g.cg === 1 && g.sw === 1 && x instanceof Float32Array && gy instanceof Float32Array && dw instanceof Float32Array &&
    convWeightGradF32(g, x, gy, dw, sums);
  const [blockDw, blockSums] = direct ? [null, null] : [dw, sums];
  if (!dx && !blockDw && !blockSums) return;
  const blk = blocking(g);
  const space = openSpace(g, blk, blockDw ? x : null, dx, dtypeOf(gy!));
  eachBlock(g, blk, space, (s0, n, grp, y0, y1) => {
    const ld = n * bandWidth(g, y1 - y0);
    moveBand(g, space.out, ld, gy!, s0, n, grp, y0, y1, true);
    if (blockSums) for (let ch = 0; ch < g.og; ch++) blockSums[grp * g.og + ch] += space.sumOut(ch * ld, ld);
    if (blockDw) {
      space.unroll(false, grp, ld, y0, y1);
      gemm(false, true, g.og, g.k, ld, 1, space.out, ld, space.cols, ld, 1, blockDw.subarray(grp * g.og * g.k), g.k);
    }
    if (dx) {
      gemm(true, false, g.k, ld, g.og, 1, wt!.subarray(grp * g.og * g.k), g.k, space.out, ld, 0, space.cols, ld);
      space.unroll(true, grp, ld, y0, y1);
    }
  });
}

const computePart = (mode: Mode, g: ConvGeometry, d: ConvData) => (mode === 'forward' ? forwardPart(g, d) : vjpPart(g, d));

/** The geometry of `n` of the samples (each sample's convolution stands alone). */
const ofSamples = (g: ConvGeometry, n: number): ConvGeometry => ({ ...g, n, shape: [n, ...g.shape.slice(1)] });

/** `d` for samples [from, from + n): views of the per-sample arrays; dw and the sums are shared. */
function samplesOf(g: ConvGeometry, d: ConvData, from: number, n: number): ConvData {
  const [xs, ys] = [g.c * g.h * g.w, g.o * g.oh * g.ow];
  const view = (t: Data | null, per: number) => t && t.subarray(from * per, (from + n) * per);
  return { ...d, x: view(d.x, xs), gy: view(d.gy, ys), y: view(d.y, ys), dx: view(d.dx, xs) };
}

/** The first sample of each chunk of `n` samples cut into `chunks`, and the end. */
const chunkStart = (n: number, chunks: number, i: number) => Math.floor((i * n) / chunks);

/** Computes chunk `i` of the `n` samples of `d` (whose dw and sums it adds to). */
function computeChunk(mode: Mode, g: ConvGeometry, d: ConvData, n: number, chunks: number, i: number): void {
  const [a, b] = [chunkStart(n, chunks, i), chunkStart(n, chunks, i + 1)];
  computePart(mode, ofSamples(g, b - a), samplesOf(g, d, a, b - a));
}

interface PartArgs {
  mode: Mode;
  /** the geometry of the part's samples */
  g: ConvGeometry;
  chunks: number;
}

/** The second core's side of bySamples (engine/split-thread.ts): the chunks of its samples it claims, on the arena's views. */
export function convPart({ mode, g, chunks }: PartArgs, arrays: Record<string, Data | null>, claim: (chunk: number) => boolean): void {
  for (let i = 0; i < chunks; i++) if (claim(i)) computeChunk(mode, g, arrays as unknown as ConvData, g.n, chunks, i);
}

/**
 * Beyond this many multiply-adds, a convolution of several samples hands half of them to a second core
 * when the request has one (engine/split.ts): less, and the hand-off would cost more than it saves.
 */
const SECOND_CORE_MIN_WORK = 2 ** 20;
/** The second half is handed over in chunks of about this many multiply-adds (at most MAX_CHUNKS). */
const CHUNK_WORK = 2 ** 20;

/**
 * Computes `d` over all samples: the second half of them on a second core when one is free (their
 * operands copied to it, their results copied or added back), the first half here meanwhile; then the
 * chunks of the second half the helper has not started, here too.
 */
function bySamples(mode: Mode, g: ConvGeometry, d: ConvData): void {
  const work = g.n * g.o * g.oh * g.ow * g.k;
  const cut = Math.ceil(g.n / 2);
  const rest = g.n - cut;
  if (rest === 0 || work < SECOND_CORE_MIN_WORK) return computePart(mode, g, d);
  const chunks = Math.max(1, Math.min(rest, MAX_CHUNKS, Math.round(work / 2 / CHUNK_WORK)));
  const hg = ofSamples(g, rest);
  const tail = samplesOf(g, d, cut, rest);
  const dtype = dtypeOf(d.wt ?? d.gy!);
  const args: PartArgs = { mode, g: hg, chunks };
  const part = startPart('conv', args, {
    x: tail.x, wt: d.wt, b: d.b, gy: tail.gy,
    y: d.y && [dtype, tail.y!.length, 'written'], dx: tail.dx, dw: d.dw && [dtype, d.dw.length], sums: d.sums && ['float64', d.sums.length],
  }, chunks);
  if (!part) return computePart(mode, g, d);
  // chunks of the second half taken back from the helper, which had not started them
  const taken: boolean[] = [];
  try {
    computePart(mode, ofSamples(g, cut), samplesOf(g, d, 0, cut));
    for (let i = chunks - 1; i >= 0; i--) if ((taken[i] = part.take(i))) computeChunk(mode, hg, tail, rest, chunks, i);
  } catch (err) {
    part.abandon();
    throw err;
  }
  const done = part.join();
  const [xs, ys] = [g.c * g.h * g.w, g.o * g.oh * g.ow];
  for (let i = 0; i < chunks; i++) {
    if (taken[i]) continue;
    // the helper's chunk: its results, or (the helper given up) computed here
    if (!done) {
      computeChunk(mode, hg, tail, rest, chunks, i);
      continue;
    }
    const [a, b] = [chunkStart(rest, chunks, i), chunkStart(rest, chunks, i + 1)];
    if (tail.y) tail.y.set(done.y!.subarray(a * ys, b * ys), a * ys);
    if (tail.dx) tail.dx.set(done.dx!.subarray(a * xs, b * xs), a * xs);
  }
  if (!done) return;
  if (d.dw) for (let i = 0; i < d.dw.length; i++) d.dw[i] += done.dw![i]!;
  if (d.sums) for (let i = 0; i < d.sums.length; i++) d.sums[i] += done.sums![i]!;
}

function forward(g: ConvGeometry, [x, wt, b]: Tensor[]): Tensor {
  const y = empty(g.shape, dtypeOf(x!));
  bySamples('forward', g, { x: x!.data, wt: wt!.data, b: b?.data ?? null, gy: null, y: y.data, dx: null, dw: null, sums: null });
  return y;
}

function vjp(
  g: ConvGeometry,
  [x, wt, b]: Tensor[],
  gy: Tensor,
  needs: readonly boolean[] | undefined,
  into: readonly (Tensor | undefined)[] | undefined,
): (Tensor | null)[] {
  const want = (k: number) => needs?.[k] ?? true;
  const dx = want(0) ? (into?.[0] ?? zeros(x!.shape, dtypeOf(x!))) : null;
  const dw = want(1) ? (into?.[1] ?? zeros(wt!.shape, dtypeOf(wt!))) : null;
  // the bias's gradient is summed in float64
  const sums = b && want(2) ? new Float64Array(g.o) : null;
  bySamples('vjp', g, { x: dw ? x!.data : null, wt: dx ? wt!.data : null, b: null, gy: gy.data, y: null, dx: dx?.data ?? null, dw: dw?.data ?? null, sums });
  const grads: (Tensor | null)[] = [dx, dw];
  if (!b) return grads;
  if (!sums) return [...grads, null];
  const db = zeros(b.shape, dtypeOf(b));
  db.data.set(sums);
  return [...grads, db];
}

// NOTE (speed): the hot loops live in small functions of their own: inside a large one, V8 left its
// optimized code at a branch it had not seen during warm-up and ran the rest of the loop interpreted,
// boxing every number (megabytes of garbage per gradient).

/** Σ d[at, at + n) in float64 whatever the dtype (as linear's bias gradient). */
function sumRun(d: Data, at: number, n: number): number {
  let t = 0;
  for (let i = at, end = at + n; i < end; i++) t += d[i]!;
  return t;
}

/** conv1d or conv2d (name `conv${dims}d`): the op of its dimension, all of whose work is done here. */
export function convOp(dims: 1 | 2, summary: string): Op<ReturnType<typeof convAttrs>> {
  const name = `conv${dims}d`;
  return defineOp({
    name,
    arity: [2, 3],
    attrs: convAttrs(dims),
    summary,
    derivative:
      '∂L/∂x = the transposed convolution of g with W (col2im of Wᵀ·g), ∂L/∂W = Σ_samples g · unrolled(x)ᵀ, ∂L/∂b = Σ of g over samples and positions',
    shape: (inputs, attrs) => geometry(name, dims, inputs, attrs).shape,
    // each output element is a dot product over its group's channels and the kernel: W's size over O
    flops: ([, w], out) => (2 * size(out) * size(w!)) / w![0]!,
    forward: (inputs, attrs) => forward(geometry(name, dims, inputs.map((t) => t.shape), attrs), inputs),
    vjp: (inputs, _out, gy, attrs, needs, into) =>
      vjp(geometry(name, dims, inputs.map((t) => t.shape), attrs), inputs, gy, needs, into),
  });
}
