import { createRequire } from 'node:module';
import type { Data } from '../tensor.js';
import { checkGemm } from './check.js';
import type { GemmBackend } from './gemm.js';
import { applyThreadRule, noteOwnThreads, singleThreaded, wantedThreads, worthSplitting } from './threads.js';

/** OpenBLAS's SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD: smaller products never use its threads. */
const SMP_MIN_MNK = 65536 * 4;

// CBLAS enum values (cblas.h).
const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** Tried in order for BLAS=auto. Only optimized CBLAS builds: a netlib libblas would lose to the wasm kernel. */
export const BLAS_CANDIDATES = [
  'libopenblas.so.0',
  'libopenblas.so',
  'libopenblasp.so.0',
  'libcblas.so.3',
  'libopenblas.dylib',
  '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
  '/usr/local/opt/openblas/lib/libopenblas.dylib',
];

type NativeGemm = (
  order: number, transA: number, transB: number, m: number, n: number, k: number, alpha: number,
  a: Data, lda: number, b: Data, ldb: number, beta: number, c: Data, ldc: number,
) => void;

interface Blas {
  path: string;
  config: string | null;
  sgemm: NativeGemm;
  dgemm: NativeGemm;
  dsdot: ((n: number, x: Float32Array, incx: number, y: Float32Array, incy: number) => number) | null;
  setThreads: ((n: number) => void) | null;
  getThreads: (() => number) | null;
}

let blas: Blas | null = null;
// Why each BLAS=auto candidate failed to load, for the message that explains a skipped backend.
let autoFailures: string[] = [];

/**
 * Loads a CBLAS library through koffi. `spec` is 'auto' (the first of BLAS_CANDIDATES that loads;
 * null when none does) or an explicit path, which throws when it cannot be loaded.
 */
export function loadOpenBlasBackend(spec = 'auto'): GemmBackend | null {
  if (blas && (spec === 'auto' || spec === blas.path)) return backendOf(blas);
  if (spec !== 'auto') {
    blas = open(spec);
  } else {
    autoFailures = [];
    for (const path of BLAS_CANDIDATES) {
      try {
        blas = open(path);
        break;
      } catch (err) {
        autoFailures.push((err as Error).message);
      }
    }
    if (!blas) return null;
  }
  setBlasThreads(defaultThreads());
  return backendOf(blas);
}

/**
 * Sets OpenBLAS's thread count (process-wide, shared by all worker threads); no-op when the library is
 * not loaded or is not OpenBLAS. The default, 1, suits one worker per core; OPENBLAS_NUM_THREADS overrides it.
 */
export function setBlasThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`BLAS threads must be a positive integer, got ${n}`);
  noteOwnThreads(n);
  blas?.setThreads?.(n);
}

/**
 * While held, products run on one OpenBLAS thread and leave the library's count alone: this thread and
 * its second-core helper (engine/split.ts) compute products at the same time, which the library's one
 * thread pool would serialize. Holding sets the count to 1 (`setCount` false: the helper's holding,
 * whose products only run while this side holds); letting go gives back the rule's count, or the one found.
 */
let held = false;
let found = 1;

/** Whether this thread holds the count now (tests: every part lets go of it). */
export const blasThreadsHeld = (): boolean => held;

export function holdBlasThreads(on: boolean, setCount = true): void {
  held = on;
  const lib = blas;
  if (!setCount || !lib?.getThreads || !lib.setThreads) return;
  if (on) {
    found = lib.getThreads();
    if (found !== 1) lib.setThreads(1);
  } else if (wantedThreads() !== null) {
    applyThreadRule(lib.getThreads, lib.setThreads);
  } else if (lib.getThreads() !== found) {
    lib.setThreads(found);
  }
}

/** The loaded library's path and OpenBLAS build string, for logs and the bench report. */
export function blasInfo(): { path: string; config: string | null } | null {
  return blas && { path: blas.path, config: blas.config };
}

/** Why BLAS=auto found no library (empty when it found one or was not tried). */
export function blasLoadFailures(): string[] {
  return blas ? [] : [...autoFailures];
}

function defaultThreads(): number {
  const env = Number(process.env.OPENBLAS_NUM_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : 1;
}

function open(path: string): Blas {
  // Loaded on demand so that importing the kernels never fails on a platform without koffi's binary.
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  let lib;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new Error(`BLAS: cannot load ${path}: ${(err as Error).message}`);
  }
  const optional = <T>(proto: string): T | null => {
    try {
      return lib.func(proto) as T;
    } catch {
      return null;
    }
  };
  try {
    const getConfig = optional<() => string>('const char *openblas_get_config(void)');
    return {
      path,
      config: getConfig ? getConfig() : null,
      sgemm: lib.func(
        'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, ' +
          'const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)',
      ) as NativeGemm,
      dgemm: lib.func(
        'void cblas_dgemm(int order, int transA, int transB, int m, int n, int k, double alpha, ' +
          'const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc)',
      ) as NativeGemm,
      dsdot: optional<NonNullable<Blas['dsdot']>>('double cblas_dsdot(int n, const float *x, int incx, const float *y, int incy)'),
      setThreads: optional<(n: number) => void>('void openblas_set_num_threads(int n)'),
      getThreads: optional<() => number>('int openblas_get_num_threads(void)'),
    };
  } catch (err) {
    lib.unload();
    throw new Error(`BLAS: ${path} has no CBLAS gemm: ${(err as Error).message}`);
  }
}

function backendOf(lib: Blas): GemmBackend {
  const dsdot = lib.dsdot;
  return {
    name: 'openblas',
    // single-threaded in OpenBLAS, so the event loop may call it beside the workers' products
    ...(dsdot && { sumSquares: (x: Float32Array) => dsdot(x.length, x, 1, x, 1) }),
    gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      // The bounds check is what keeps a bad call from corrupting native memory.
      if (!checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)) return;
      const native = c instanceof Float64Array ? lib.dgemm : lib.sgemm;
      // Typed arrays (subarray views included) are passed as pointers to their first element: no copy.
      // NOTE: BLAS rejects ld < max(1, stored columns) even for an empty operand (k = 0), printing to
      // stderr instead of computing C = beta·C; checkGemm already enforces it whenever the operand is
      // non-empty, so raising ld only changes that degenerate case.
      const run = () =>
        native(
          ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha,
          a, Math.max(1, lda, transA ? m : k), b, Math.max(1, ldb, transB ? k : n), beta, c, ldc,
        );
      // below this many multiply-adds OpenBLAS runs single-threaded anyway (interface/gemm.c)
      if (held || m * n * k < SMP_MIN_MNK || !lib.getThreads || !lib.setThreads) return run();
      if (!worthSplitting(m, n, k)) return singleThreaded(lib.getThreads, lib.setThreads, run);
      applyThreadRule(lib.getThreads, lib.setThreads);
      run();
    },
  };
}
