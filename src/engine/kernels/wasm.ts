import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Data } from '../tensor.js';
import { GELU_F32_RANGE } from '../math/gelu-f32.js';
import { sigmoid as logistic } from '../math/logistic.js';
import { checkGemm, extent } from './check.js';
import type { GemmBackend } from './gemm.js';

// The project compiles without DOM typings, so the few WebAssembly APIs used are typed here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GemmExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  operandBase(): number;
  sgemm: WasmGemm;
  dgemm: WasmGemm;
  relu32(x: number, n: number): void;
  reluGrad32(y: number, g: number, n: number): void;
  tanh32(x: number, n: number): void;
  logistic32(mode: number, x: number, g: number, n: number, clamp: number): number;
  gradFromOutput32(kind: number, y: number, g: number, n: number): void;
  leakySelect32(x: number, v: number, n: number, slope: number): void;
  sumSquares32(x: number, n: number): number;
  sum32(x: number, n: number): number;
  columnSums32(x: number, rows: number, cols: number, s: number): void;
  copyRuns(x: number, y: number, runBytes: number, starts: number, count: number, size: number): void;
  gelu32(mode: number, x: number, g: number, n: number): number;
  softmax32(p: number, rows: number, cols: number, first: number, causal: number, stats: number): void;
  scaledSoftmax32(p: number, rows: number, cols: number, scales: number): void;
  layernorm32(mode: number, x: number, g: number, rows: number, d: number, w: number, b: number, dw: number, db: number, eps: number, stats: number): void;
  unroll32: WasmUnroll;
  unroll64: WasmUnroll;
  maxPool2x2f32(x: number, planes: number, h: number, w: number, oh: number, ow: number, y: number, arg: number, base: number): void;
  maxPoolScatter32(g: number, arg: number, n: number, dx: number, base: number, size: number): void;
  padPlanes32(x: number, planes: number, h: number, w: number, p: number, hp: number, wp: number, ph: number, pw: number): void;
  convWeightGrad32(
    xp: number, g: number, samples: number, groups: number, og: number, oh: number, ow: number, hp: number, wp: number, sh: number,
    taps: number, ntaps: number, acc: number, bias: number,
  ): void;
  add32(x: number, y: number, n: number): void;
  mul32(x: number, y: number, n: number): void;
  scaleRows32(p: number, rows: number, cols: number, factors: number): void;
  sumRows32(x: number, rows: number, cols: number, acc: number): void;
}
type WasmUnroll = (clear: number, fold: number, x: number, xs: number, samples: number, cols: number, ld: number, width: number, ...geometry: number[]) => void;
type WasmGemm = (
  transA: number, transB: number, m: number, n: number, k: number, alpha: number,
  a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
) => void;

const WASM_FILE = join('build', 'gemm.wasm');
const PAGE = 65536;

/** build/gemm.wasm at the package root, found from src/ (vitest) and dist/src/ (compiled) alike. */
export function wasmPath(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, WASM_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${WASM_FILE} not found above ${start}: run \`npm run build\``);
  }
}

// Per thread (module state is per worker): the compiled module (the GEMM and the elementwise kernels),
// and one instance whose memory is grown on demand and reused by the next calls, unless a call needed
// more than `retainBytes`: that instance is dropped afterwards, so one huge product does not pin its
// memory for the worker's lifetime.
let compiled: object | null = null;
let live: Instance | null = null;
export const DEFAULT_RETAIN_BYTES = 64 * 2 ** 20;
let retainBytes = DEFAULT_RETAIN_BYTES;

/** The WebAssembly SIMD backend; throws when build/gemm.wasm is missing. */
export function loadWasmBackend(): GemmBackend {
  // Synchronous compile is fine in Node (no main-thread size limit) and keeps backend selection sync.
  compiled ??= new WA.Module(readFileSync(wasmPath()));
  return wasmBackend;
}

/** Sets the linear-memory size (bytes) an instance may keep between calls. */
export function setWasmRetainBytes(bytes: number): void {
  if (!(bytes >= 0)) throw new RangeError(`retain bytes must be >= 0, got ${bytes}`);
  retainBytes = bytes;
}

/** Linear memory currently held by this thread's instance (0 when none is live). */
export function wasmMemoryBytes(): number {
  return live ? live.x.memory.buffer.byteLength : 0;
}

/** One instance of the module: its exports and views of its linear memory. */
export class Instance {
  readonly x: GemmExports;
  readonly base: number;
  f32: Float32Array;
  f64: Float64Array;

  constructor(module: object) {
    this.x = new WA.Instance(module, {}).exports as GemmExports;
    this.base = this.x.operandBase();
    this.f32 = new Float32Array(this.x.memory.buffer);
    this.f64 = new Float64Array(this.x.memory.buffer);
  }

  reserve(bytes: number): void {
    const { memory } = this.x;
    const have = memory.buffer.byteLength;
    if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE));
    // Growing detaches the old ArrayBuffer, so the views are rebuilt whenever it changed.
    if (this.f32.buffer !== memory.buffer) {
      this.f32 = new Float32Array(memory.buffer);
      this.f64 = new Float64Array(memory.buffer);
    }
  }
}

const wasmBackend: GemmBackend = {
  name: 'wasm',
  gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
    if (!checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)) return;
    const w = (live ??= new Instance(compiled!));
    const sz = c.BYTES_PER_ELEMENT;
    const aLen = extent(transA ? k : m, transA ? m : k, lda);
    const bLen = extent(transB ? n : k, transB ? k : n, ldb);
    // Element offsets of A, B and C (C packed with stride n) in linear memory, 16-byte aligned.
    const aAt = w.base / sz;
    const bAt = align16(aAt + aLen, sz);
    const cAt = align16(bAt + bLen, sz);
    const bytes = (cAt + m * n) * sz;
    w.reserve(bytes);
    const mem: Data = sz === 8 ? w.f64 : w.f32;
    if (aLen > 0) mem.set(a.subarray(0, aLen), aAt);
    if (bLen > 0) mem.set(b.subarray(0, bLen), bAt);
    // NOTE: with beta = 0 C is write-only, so it is neither copied in nor read by the kernel.
    if (beta !== 0) copyBlock(c, 0, ldc, mem, cAt, n, m, n);
    const run = sz === 8 ? w.x.dgemm : w.x.sgemm;
    run(+transA, +transB, m, n, k, alpha, aAt * sz, lda, bAt * sz, ldb, beta, cAt * sz, n);
    copyBlock(mem, cAt, n, c, 0, ldc, m, n);
    if (bytes > retainBytes) live = null;
  },
};

function align16(elementIndex: number, sz: number): number {
  const step = 16 / sz;
  return Math.ceil(elementIndex / step) * step;
}

/** Copies an m×n block from src at sAt (row stride sld) to dst at dAt (row stride dld). */
function copyBlock(src: Data, sAt: number, sld: number, dst: Data, dAt: number, dld: number, m: number, n: number): void {
  if (sld === n && dld === n) {
    dst.set(src.subarray(sAt, sAt + m * n), dAt);
    return;
  }
  for (let i = 0; i < m; i++) dst.set(src.subarray(sAt + i * sld, sAt + i * sld + n), dAt + i * dld);
}

// Elementwise kernels: they work through a tensor in chunks of CHUNK elements copied into linear memory
// above operandBase(), so a tensor of any size needs 64 KiB there, and each chunk's copy in, loop and copy
// out stay in L1/L2. Below ELEMENTWISE_MIN elements the call and copies do not pay: the functions
// decline (return false, writing nothing), as they do when the module is missing, and the op runs its
// JS loop.
const CHUNK = 8192;
export const ELEMENTWISE_MIN = 1024;
let moduleMissing = false;

/** This thread's compiled module, or null when build/gemm.wasm cannot be loaded. */
export function wasmModule(): object | null {
  if (!compiled && !moduleMissing) {
    try {
      compiled = new WA.Module(readFileSync(wasmPath()));
    } catch {
      moduleMissing = true;
    }
  }
  return compiled;
}

/** This thread's instance, or null when build/gemm.wasm cannot be loaded. */
function instance(): Instance | null {
  const module = wasmModule();
  return module ? (live ??= new Instance(module)) : null;
}

/** This thread's instance with room for two chunks, or null when build/gemm.wasm cannot be loaded. */
function chunkInstance(): Instance | null {
  const w = instance();
  w?.reserve(w.base + 2 * CHUNK * Float32Array.BYTES_PER_ELEMENT);
  return w;
}

/**
 * y = f(x) for an in-place kernel f(byte offset, count) over each chunk; false when declined (see above).
 * A kernel that leaves some elements to the caller returns how many: those (where `mine` says) get
 * `exact` instead.
 */
function mapChunks(
  x: Float32Array,
  y: Float32Array,
  f: (w: Instance, at: number, n: number) => number | void,
  exact?: { mine(x: number): boolean; f(x: number): number },
): boolean {
  const w = x.length >= ELEMENTWISE_MIN ? chunkInstance() : null;
  if (!w) return false;
  const at = w.base / 4;
  for (let s = 0; s < x.length; s += CHUNK) {
    const n = Math.min(CHUNK, x.length - s);
    w.f32.set(x.subarray(s, s + n), at);
    const left = f(w, w.base, n);
    y.set(w.f32.subarray(at, at + n), s);
    if (exact && left) for (let i = s; i < s + n; i++) if (exact.mine(x[i]!)) y[i] = exact.f(x[i]!);
  }
  return true;
}

/** y = relu(x), bit for bit as the JS loops of src/engine/ops/relu.ts; false when declined. */
export function reluF32(x: Float32Array, y: Float32Array): boolean {
  return mapChunks(x, y, (w, at, n) => w.x.relu32(at, n));
}

/** y = tanh(x) within 1.51 ulp (src/engine/kernels/wasm/assembly/tanh.ts); false when declined. */
export function tanhF32(x: Float32Array, y: Float32Array): boolean {
  return mapChunks(x, y, (w, at, n) => w.x.tanh32(at, n));
}

// The logistic kernel's clamp on |x| (logistic32 in tanh.ts): past 105, σ(−x) rounds to 0.
const SIGMOID_CLAMP = 105;

/** y = σ(x) = 1/(1 + e⁻ˣ) within 2.41 ulp (src/engine/kernels/wasm/assembly/tanh.ts); false when declined. */
export function sigmoidF32(x: Float32Array, y: Float32Array): boolean {
  return mapChunks(x, y, (w, at, n) => w.x.logistic32(0, at, 0, n, SIGMOID_CLAMP));
}

// silu's kernel covers |x| ≤ 80 (logistic32 in tanh.ts); beyond, where e^−|x| leaves the normal range, each
// element takes the JS rule (src/engine/ops/silu.ts). Rare in practice: the kernel counts them first.
const SILU_RANGE = 80;
const outsideSilu = (x: number): boolean => !(Math.abs(x) <= SILU_RANGE) && !Number.isNaN(x);

/** y = x·σ(x) within 3.4 ulp over every float32 (logistic32); false when declined. */
export function siluF32(x: Float32Array, y: Float32Array): boolean {
  return mapChunks(x, y, (w, at, n) => w.x.logistic32(1, at, 0, n, SILU_RANGE), { mine: outsideSilu, f: (v) => v * logistic(v) });
}

/**
 * gx = g·σ(x)·(1 + x·(1 − σ(x))), silu's gradient (logistic32): within 4.55 ulp (every float32, g = 1) of the
 * larger of its two terms g·σ(x) and g·σ(x)·x·(1 − σ(x)), which cancel where it crosses zero
 * (x ≈ −1.28); false when declined.
 */
export function siluGradF32(x: Float32Array, g: Float32Array, gx: Float32Array): boolean {
  return gradChunks(x, g, gx, (w, xAt, gAt, n) => w.x.logistic32(2, xAt, gAt, n, SILU_RANGE), {
    mine: outsideSilu,
    f: (v, gv) => {
      const s = logistic(v);
      return gv * (s * (1 + v * (1 - s)));
    },
  });
}

/** y = x > 0 ? x : slope·x, bit for bit the JS loop (src/engine/kernels/wasm/assembly/lanes.ts); false when declined. */
export function leakyReluF32(x: Float32Array, y: Float32Array, slope: number): boolean {
  return mapChunks(x, y, (w, at, n) => w.x.leakySelect32(at, at, n, slope));
}

/**
 * Σx² accumulated in float64 (as sumSquares in src/engine/tensor.ts, in another order of additions),
 * or null when declined.
 */
export function sumSquaresF32(x: Float32Array): number | null {
  const w = x.length >= ELEMENTWISE_MIN ? chunkInstance() : null;
  if (!w) return null;
  const at = w.base / 4;
  let sum = 0;
  for (let s = 0; s < x.length; s += CHUNK) {
    const n = Math.min(CHUNK, x.length - s);
    w.f32.set(x.subarray(s, s + n), at);
    sum += w.x.sumSquares32(w.base, n);
  }
  return sum;
}

/** gx = g through an in-place kernel f(byte offset of u, of g, count) over each chunk of u and g; as mapChunks. */
function gradChunks(
  u: Float32Array,
  g: Float32Array,
  gx: Float32Array,
  f: (w: Instance, uAt: number, gAt: number, n: number) => number | void,
  exact?: { mine(u: number): boolean; f(u: number, g: number): number },
): boolean {
  const w = u.length >= ELEMENTWISE_MIN ? chunkInstance() : null;
  if (!w) return false;
  const [uAt, gAt] = [w.base / 4, w.base / 4 + CHUNK];
  for (let s = 0; s < u.length; s += CHUNK) {
    const n = Math.min(CHUNK, u.length - s);
    w.f32.set(u.subarray(s, s + n), uAt);
    w.f32.set(g.subarray(s, s + n), gAt);
    const left = f(w, uAt * 4, gAt * 4, n);
    gx.set(w.f32.subarray(gAt, gAt + n), s);
    if (exact && left) for (let i = s; i < s + n; i++) if (exact.mine(u[i]!)) gx[i] = exact.f(u[i]!, g[i]!);
  }
  return true;
}

// gelu's kernel covers |x| ≤ GELU_F32_RANGE (gelu32 in src/engine/kernels/wasm/assembly/gelu.ts); NaN and the
// rest take the op's own rule, given by the caller (src/engine/ops/gelu.ts).
const outsideGelu = (x: number): boolean => !(Math.abs(x) <= GELU_F32_RANGE);

/**
 * Whether this thread's module has kernel `name`: a build/gemm.wasm older than its sources (a checkout
 * not rebuilt yet) lacks the newer ones, and the ops then run their JS loops.
 */
function hasKernel(name: keyof GemmExports): boolean {
  return typeof instance()?.x[name] === 'function';
}

/** y = gelu(x), the float32 rule of src/engine/math/gelu-f32.ts in float32 lanes (gelu32); false when declined. */
export function geluF32(x: Float32Array, y: Float32Array, rule: (x: number) => number): boolean {
  return hasKernel('gelu32') && mapChunks(x, y, (w, at, n) => w.x.gelu32(0, at, 0, n), { mine: outsideGelu, f: rule });
}

/** gx = g·gelu′(x), as geluF32 (gradRule(x, g) for the elements the kernel leaves); false when declined. */
export function geluGradF32(x: Float32Array, g: Float32Array, gx: Float32Array, gradRule: (x: number, g: number) => number): boolean {
  return hasKernel('gelu32') && gradChunks(x, g, gx, (w, xAt, gAt, n) => w.x.gelu32(1, xAt, gAt, n), { mine: outsideGelu, f: gradRule });
}

/**
 * Softmax over each row of p [rows, cols] in place, within about one float32 ulp of the float64 loop
 * (softmax32 in src/engine/kernels/wasm/assembly/softmax.ts); with `causal`, row i keeps its first i + 1
 * entries and the rest become 0. False when declined (no module, or a row longer than two chunks).
 */
export function softmaxRowsF32(p: Float32Array, rows: number, cols: number, causal: boolean): boolean {
  const per = cols > 0 ? Math.floor((2 * CHUNK) / cols) : 0;
  const w = per > 0 && hasKernel('softmax32') ? chunkInstance() : null;
  if (!w) return false;
  const at = w.base / 4;
  for (let r = 0; r < rows; r += per) {
    const n = Math.min(per, rows - r) * cols;
    const block = p.subarray(r * cols, r * cols + n);
    w.f32.set(block, at);
    w.x.softmax32(w.base, n / cols, cols, r, causal ? 1 : 0, 0);
    block.set(w.f32.subarray(at, at + n));
  }
  return true;
}

/**
 * e = exp(x − max) over each row of x [rows, cols] (softmax32 without the normalization; not copied out
 * when e is null), and each row's max and Σe (in float64) at stats[2i], stats[2i + 1]; false when
 * declined (as softmaxRowsF32).
 */
export function expRowsF32(x: Float32Array, rows: number, cols: number, e: Float32Array | null, stats: Float64Array): boolean {
  return rowChunks(x, rows, cols, e, 'softmax32', { f64: stats, each: 2, into: false }, (w, m, at) => w.x.softmax32(w.base, m, cols, 0, 0, at));
}

/**
 * p = scales[i]·softmax(x) over each row i of x [rows, cols] (scaledSoftmax32; a row of −∞ gives
 * NaN, as the JS loops); false when declined (as softmaxRowsF32).
 */
export function scaledSoftmaxRowsF32(x: Float32Array, rows: number, cols: number, scales: Float64Array, p: Float32Array): boolean {
  return rowChunks(x, rows, cols, p, 'scaledSoftmax32', { f64: scales, each: 1, into: true }, (w, m, at) => w.x.scaledSoftmax32(w.base, m, cols, at));
}

/**
 * Runs `kernel` on x [rows, cols] a chunk of whole rows at a time, with `each` float64 of `side.f64` a row
 * in the second chunk's place (at byte offset `at`), copied there first (`into`) or out after; the rows,
 * as the kernel left them, go to y unless it is null. False when the module lacks `name`.
 */
function rowChunks(
  x: Float32Array, rows: number, cols: number, y: Float32Array | null, name: keyof GemmExports,
  side: { f64: Float64Array; each: number; into: boolean }, kernel: (w: Instance, m: number, at: number) => void,
): boolean {
  const per = cols > 0 ? Math.min(Math.floor(CHUNK / cols), CHUNK / (2 * side.each)) : 0;
  const w = per > 0 && hasKernel(name) ? chunkInstance() : null;
  if (!w) return false;
  const at = w.base / 4;
  const sideAt = w.base + CHUNK * 4;
  for (let r = 0; r < rows; r += per) {
    const m = Math.min(per, rows - r);
    const [from, to] = [r * side.each, (r + m) * side.each];
    w.f32.set(x.subarray(r * cols, (r + m) * cols), at);
    if (side.into) w.f64.set(side.f64.subarray(from, to), sideAt / 8);
    kernel(w, m, sideAt);
    y?.set(w.f32.subarray(at, at + m * cols), r * cols);
    if (!side.into) side.f64.set(w.f64.subarray(sideAt / 8, sideAt / 8 + to - from), from);
  }
  return true;
}

/**
 * s[j] += Σ_r x[r, j] over x [rows, cols] in float64, bit for bit as the JS loop of src/engine/ops/linear.ts
 * (columnSums32 in src/engine/kernels/wasm/assembly/reduce.ts); false when declined (fewer than
 * ELEMENTWISE_MIN elements, no kernel, or columns too wide for eight rows a chunk).
 */
export function columnSumsF32(x: Float32Array, rows: number, cols: number, s: Float64Array): boolean {
  // blocks of whole passes of eight rows, so the rows group as in the JS loop
  const block = cols > 0 ? Math.floor((2 * CHUNK) / cols / 8) * 8 : 0;
  if (block === 0 || rows * cols < ELEMENTWISE_MIN || !hasKernel('columnSums32')) return false;
  const w = chunkInstance()!;
  const sumsAt = w.base + 2 * CHUNK * 4;
  w.reserve(sumsAt + cols * 8);
  w.f64.set(s, sumsAt / 8);
  for (let r = 0; r < rows; r += block) {
    const m = Math.min(block, rows - r);
    w.f32.set(x.subarray(r * cols, (r + m) * cols), w.base / 4);
    w.x.columnSums32(w.base, m, cols, sumsAt);
  }
  s.set(w.f64.subarray(sumsAt / 8, sumsAt / 8 + cols));
  return true;
}

// The largest tensor copyRunsOf takes: the thread's instance keeps the linear memory it grew to (twice
// this, x and y), so a larger one runs the JS loop rather than pin more.
const RUNS_MAX_BYTES = 2 ** 20;

/**
 * y[k·run + j] = x[starts[k] + j] for each of the starts.length runs of `run` elements (src/engine/ops/axes.ts's
 * permute): x copied into linear memory whole, each run moved there by whole vectors (copyRuns in
 * src/engine/kernels/wasm/assembly/runs.ts), y copied out. False when declined: fewer than ELEMENTWISE_MIN
 * elements, runs under 4 elements, x above RUNS_MAX_BYTES, or no kernel.
 */
export function copyRunsOf(x: Data, y: Data, run: number, starts: Int32Array): boolean {
  const size = x.BYTES_PER_ELEMENT;
  const bytes = align16(x.length * size, 1);
  if (run < 4 || x.length < ELEMENTWISE_MIN || bytes > RUNS_MAX_BYTES || !hasKernel('copyRuns')) return false;
  const w = chunkInstance()!;
  const [xAt, yAt, sAt] = [w.base, w.base + bytes, w.base + 2 * bytes];
  w.reserve(sAt + starts.byteLength);
  const mem: Data = size === 8 ? w.f64 : w.f32;
  mem.set(x, xAt / size);
  new Int32Array(w.x.memory.buffer, sAt, starts.length).set(starts);
  w.x.copyRuns(xAt, yAt, run * size, sAt, starts.length, size);
  y.set(mem.subarray(yAt / size, yAt / size + y.length));
  return true;
}

/**
 * Linear memory for layernorm32 over rows of d: blocks of whole rows of x and g, then w, b (float32)
 * and the float64 sums dw, db; null when declined (no kernel, d not a multiple of 4 or above a chunk).
 */
function normLayout(d: number) {
  if (d === 0 || d % 4 !== 0 || d > CHUNK || !hasKernel('layernorm32')) return null;
  const w = chunkInstance()!;
  const rows = Math.floor(CHUNK / d);
  const xAt = w.base;
  const gAt = xAt + rows * d * 4;
  const wAt = gAt + rows * d * 4;
  const bAt = wAt + d * 4;
  const dwAt = bAt + d * 4;
  const dbAt = dwAt + d * 8;
  const statsAt = dbAt + d * 8;
  w.reserve(statsAt + 16);
  return { w, rows, xAt, gAt, wAt, bAt, dwAt, dbAt, statsAt };
}

/** y = layernorm of each row of d of x, ·w + b (layernorm32, float64 arithmetic rounded once); false when declined. */
export function layerNormF32(x: Float32Array, d: number, wt: Float32Array, b: Float32Array, eps: number, y: Float32Array): boolean {
  const L = normLayout(d);
  if (!L) return false;
  const { w, rows, xAt } = L;
  w.f32.set(wt, L.wAt / 4);
  w.f32.set(b, L.bAt / 4);
  const n = x.length / d;
  for (let r = 0; r < n; r += rows) {
    const m = Math.min(rows, n - r);
    w.f32.set(x.subarray(r * d, (r + m) * d), xAt / 4);
    w.x.layernorm32(0, xAt, 0, m, d, L.wAt, L.bAt, 0, 0, eps, L.statsAt);
    y.set(w.f32.subarray(xAt / 4, xAt / 4 + m * d), r * d);
  }
  return true;
}

/** dx of layernorm's rows, and Σ g·x̂, Σ g per position into dw, db (layernorm32); false when declined. */
export function layerNormGradF32(x: Float32Array, g: Float32Array, d: number, wt: Float32Array, eps: number, dx: Float32Array, dw: Float64Array, db: Float64Array): boolean {
  const L = normLayout(d);
  if (!L) return false;
  const { w, rows, xAt, gAt } = L;
  w.f32.set(wt, L.wAt / 4);
  w.f64.fill(0, L.dwAt / 8, L.dbAt / 8 + d);
  const n = x.length / d;
  for (let r = 0; r < n; r += rows) {
    const m = Math.min(rows, n - r);
    w.f32.set(x.subarray(r * d, (r + m) * d), xAt / 4);
    w.f32.set(g.subarray(r * d, (r + m) * d), gAt / 4);
    w.x.layernorm32(1, xAt, gAt, m, d, L.wAt, L.bAt, L.dwAt, L.dbAt, eps, L.statsAt);
    dx.set(w.f32.subarray(gAt / 4, gAt / 4 + m * d), r * d);
  }
  dw.set(w.f64.subarray(L.dwAt / 8, L.dwAt / 8 + d));
  db.set(w.f64.subarray(L.dbAt / 8, L.dbAt / 8 + d));
  return true;
}

/** gx = g where y > 0 or y is NaN, else 0 (relu's gradient), as reluF32; false when declined. */
export function reluGradF32(y: Float32Array, g: Float32Array, gx: Float32Array): boolean {
  return gradChunks(y, g, gx, (w, yAt, gAt, n) => w.x.reluGrad32(yAt, gAt, n));
}

// The gradients below give the JS loops' bits: computed in float64 lanes, rounded once (lanes.ts).

/** gx = g·(1 − y²), tanh's gradient given its output y; false when declined. */
export function tanhGradF32(y: Float32Array, g: Float32Array, gx: Float32Array): boolean {
  return gradChunks(y, g, gx, (w, yAt, gAt, n) => w.x.gradFromOutput32(0, yAt, gAt, n));
}

/** gx = g·(y·(1 − y)), sigmoid's gradient given its output y; false when declined. */
export function sigmoidGradF32(y: Float32Array, g: Float32Array, gx: Float32Array): boolean {
  return gradChunks(y, g, gx, (w, yAt, gAt, n) => w.x.gradFromOutput32(1, yAt, gAt, n));
}

/** gx = x > 0 ? g : slope·g, leaky_relu's gradient given its input x; false when declined. */
export function leakyReluGradF32(x: Float32Array, g: Float32Array, gx: Float32Array, slope: number): boolean {
  return gradChunks(x, g, gx, (w, xAt, gAt, n) => w.x.leakySelect32(xAt, gAt, n, slope));
}

/** out = a + b over float32 (add32, the JS loops' bits); out may be a or b. False when declined. */
export function addF32(a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  return hasKernel('add32') && gradChunks(a, b, out, (w, aAt, bAt, n) => w.x.add32(aAt, bAt, n));
}

/**
 * out[i] = whole[i] + tile[i mod tile.length] over float32 (add32): a bias or a positional table added
 * to every row. A tile that fits in a chunk is laid out there once, repeated, for every chunk of whole
 * tiles; a longer one is copied in piece by piece. False when declined.
 */
export function addTiledF32(whole: Float32Array, tile: Float32Array, out: Float32Array): boolean {
  const m = tile.length;
  if (m === 0 || whole.length < ELEMENTWISE_MIN || !hasKernel('add32')) return false;
  const w = chunkInstance()!;
  const [xAt, tAt] = [w.base / 4, w.base / 4 + CHUNK];
  const step = m <= CHUNK ? Math.floor(CHUNK / m) * m : CHUNK;
  if (m <= CHUNK) {
    w.f32.set(tile, tAt);
    for (let k = m; k < step; k *= 2) w.f32.copyWithin(tAt + k, tAt, tAt + Math.min(k, step - k));
  }
  for (let s = 0; s < whole.length; s += step) {
    const n = Math.min(step, whole.length - s);
    w.f32.set(whole.subarray(s, s + n), xAt);
    for (let i = 0; m > CHUNK && i < n; ) {
      const j = (s + i) % m;
      const k = Math.min(n - i, m - j);
      w.f32.set(tile.subarray(j, j + k), tAt + i);
      i += k;
    }
    w.x.add32(tAt * 4, xAt * 4, n);
    out.set(w.f32.subarray(xAt, xAt + n), s);
  }
  return true;
}

/**
 * out[j] = x[0, j] + x[1, j] + … over the rows of x [rows, out.length], from +0 in that order
 * (sumRows32): the bits of sumToShape's JS loop (src/engine/tensor.ts). False when declined.
 */
export function sumTilesF32(x: Float32Array, out: Float32Array): boolean {
  const m = out.length;
  if (m === 0 || x.length < ELEMENTWISE_MIN || !hasKernel('sumRows32')) return false;
  const w = chunkInstance()!;
  const [xAt, accAt] = [w.base / 4, w.base / 4 + CHUNK];
  const rows = x.length / m;
  // columns a chunk at most at a time, and of those as many rows as fill a chunk
  for (let c = 0; c < m; c += CHUNK) {
    const cols = Math.min(CHUNK, m - c);
    const per = Math.floor(CHUNK / cols);
    w.f32.fill(0, accAt, accAt + cols);
    for (let r = 0; r < rows; r += per) {
      const k = Math.min(per, rows - r);
      if (cols === m) w.f32.set(x.subarray(r * m, (r + k) * m), xAt);
      else for (let i = 0; i < k; i++) w.f32.set(x.subarray((r + i) * m + c, (r + i) * m + c + cols), xAt + i * cols);
      w.x.sumRows32(xAt * 4, k, cols, accAt * 4);
    }
    out.set(w.f32.subarray(accAt, accAt + cols), c);
  }
  return true;
}

/** out = a·b over float32 (mul32, the JS loops' bits); out may be a or b. False when declined. */
export function mulF32(a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  return hasKernel('mul32') && gradChunks(a, b, out, (w, aAt, bAt, n) => w.x.mul32(aAt, bAt, n));
}

/**
 * y = gelu(x) and d = gelu′(x) in one pass (gelu32's mode 2): g·d on mulF32 is then geluGradF32's g·gelu′(x),
 * bit for bit. The elements the kernel leaves get rule(x) in y and NaN in d; returns how many (the caller
 * computes their gradients itself), or null when declined.
 */
export function geluSlopeF32(x: Float32Array, y: Float32Array, d: Float32Array, rule: (x: number) => number): number | null {
  const w = x.length >= ELEMENTWISE_MIN && hasKernel('gelu32') ? chunkInstance() : null;
  if (!w) return null;
  const [xAt, dAt] = [w.base / 4, w.base / 4 + CHUNK];
  let left = 0;
  for (let s = 0; s < x.length; s += CHUNK) {
    const n = Math.min(CHUNK, x.length - s);
    w.f32.set(x.subarray(s, s + n), xAt);
    const any = w.x.gelu32(2, xAt * 4, dAt * 4, n);
    y.set(w.f32.subarray(xAt, xAt + n), s);
    d.set(w.f32.subarray(dAt, dAt + n), s);
    for (let i = s; any && i < s + n; i++) {
      if (!outsideGelu(x[i]!)) continue;
      y[i] = rule(x[i]!);
      d[i] = Number.NaN;
      left++;
    }
  }
  return left;
}

/**
 * p[i, :] ← p[i, :]·factors[i] over the rows of p [rows, cols], in float64 rounded once (scaleRows32): rows
 * expRowsF32 left at e = exp(x − max), with factors scale/Σe, give scaledSoftmaxRowsF32's bits. False when
 * declined (as softmaxRowsF32).
 */
export function scaleRowsF32(p: Float32Array, rows: number, cols: number, factors: Float64Array): boolean {
  return rowChunks(p, rows, cols, p, 'scaleRows32', { f64: factors, each: 1, into: true }, (w, m, at) => w.x.scaleRows32(w.base, m, cols, at));
}
