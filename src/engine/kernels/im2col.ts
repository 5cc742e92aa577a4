// The convolutions' im2col and col2im in WebAssembly (wasm/assembly/im2col.ts), on a workspace in the
// linear memory of an instance of their own: the GEMM backend's instance lays its operands out in its
// memory on every product, and these regions must outlive several products. The GEMMs read and write
// the regions in place (OpenBLAS takes any typed array's pointer; the wasm GEMM copies them in).
import type { Data, DType } from '../tensor.js';
import { DEFAULT_RETAIN_BYTES, Instance, wasmModule } from './wasm.js';

/** The sizes and steps of an unrolling (the convolution's geometry, src/engine/ops/shared/conv.ts). */
export interface UnrollGeometry {
  cg: number; h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  dh: number; dw: number; ow: number;
  /** some tap falls outside the input: those of the unrolled matrix are zeroed */
  padded: boolean;
}

/** Views of this thread's workspace: a block of x, of its gradient, the unrolled matrix and a product. */
export interface Im2colSpace {
  x: Data;
  dx: Data;
  cols: Data;
  out: Data;
  /**
   * Unrolls `samples` samples of `from` (this space's x or dx), starting `at` elements into it and
   * `xs` apart, into cols (`ld` elements a row, `width` columns a sample), output rows [y0, y1); with
   * `fold`, adds cols back into them instead (col2im).
   */
  unroll(fold: boolean, from: Data, at: number, xs: number, samples: number, ld: number, width: number, g: UnrollGeometry, y0: number, y1: number): void;
  /** Σ out[at, at + n) in float64, by the SIMD kernel; null on float64 or without it (the caller sums it) */
  sumOut: ((at: number, n: number) => number) | null;
}

let own: Instance | null = null;

/**
 * This thread's instance for the convolution and pooling kernels, its memory grown to hold `regions`
 * (sizes in bytes, each placed 16-byte aligned, for the SIMD loops) past its base; with the byte offset
 * of each. Null when build/gemm.wasm cannot be loaded (the caller runs its JS loops). An instance that
 * had to grow past DEFAULT_RETAIN_BYTES serves this call only, as the GEMM's does.
 */
export function workspace(regions: readonly number[]): { w: Instance; at: number[] } | null {
  const module = wasmModule();
  if (!module) return null;
  const w = (own ??= new Instance(module));
  const at: number[] = [];
  let end = Math.ceil(w.base / 16) * 16;
  for (const bytes of regions) {
    at.push(end);
    end += Math.ceil(bytes / 16) * 16;
  }
  w.reserve(end);
  if (end > DEFAULT_RETAIN_BYTES) own = null;
  return { w, at };
}

/**
 * A workspace of [x, dx, cols, out] elements of `dtype` (the views valid until the next call of
 * `workspace`), or null without build/gemm.wasm.
 */
export function im2colSpace(dtype: DType, sizes: readonly [number, number, number, number]): Im2colSpace | null {
  const sz = dtype === 'float32' ? 4 : 8;
  const space = workspace(sizes.map((n) => n * sz));
  if (!space) return null;
  const { w } = space;
  const at = space.at.map((b) => b / sz);
  const [xn, dxn, colsn, outn] = sizes;
  const mem = sz === 4 ? w.f32 : w.f64;
  const view = (i: number, n: number) => mem.subarray(at[i]!, at[i]! + n);
  const run = sz === 4 ? w.x.unroll32 : w.x.unroll64;
  const cols = view(2, colsn);
  return {
    x: view(0, xn),
    dx: view(1, dxn),
    cols,
    out: view(3, outn),
    // a build/gemm.wasm older than its sources lacks sum32: the caller's JS loop then (as wasm.ts's hasKernel)
    sumOut: sz === 4 && typeof w.x.sum32 === 'function' ? (a, n) => w.x.sum32(at[3]! * sz + a * sz, n) : null,
    unroll(fold, from, at, xs, samples, ld, width, g, y0, y1) {
      run(
        +(!fold && g.padded), +fold, from.byteOffset + at * sz, xs, samples, cols.byteOffset, ld, width,
        g.cg, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.ow, y0, y1,
      );
    },
  };
}
