// In-process compute: one gradient of the large and the small MLP (ReLU, cross-entropy, float32) on the
// engine with its default kernels and with BLAS=off (the wasm kernel), against PyTorch, tfjs (cpu) and
// tfjs-backend-wasm computing the same gradients, all in this run. (The compute-vs-PyTorch target is
// judged on the service's own timing, in http-large; the rows here are the engine alone.)
import os from 'node:os';
import { donateBuffers } from '../../src/engine/buffers.js';
import { gradients } from '../../src/engine/index.js';
import type { GradientsJob, Limits } from '../../src/engine/api.js';
import type { Tensors } from '../../src/engine/spec.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { gemmBackend, initKernels, setBlasThreads, setGemmBackend } from '../../src/engine/kernels/index.js';
import { loadWasmBackend } from '../../src/engine/kernels/wasm.js';
import { startHelper } from '../../src/engine/split.js';
import { breathe, describe, LARGE, median, mlpData, mlpJob, repeat, round, SMALL, type Ctx, type Row, type TorchResult } from './common.js';
import { tfjsPeer, type PeerTiming, type TfBackend, type TfjsResult } from './tfjs.js';
import { torchPeer, torchRows, torchScript } from './torch.js';

const LIMITS = { maxElements: 4_000_000, maxNodes: 10_000 };

export interface EngineTiming extends PeerTiming {
  /** the whole gradients() call: model build, passes, diagnostics */
  wallMs: number;
}

const ROUNDS = 2;
/**
 * Unmeasured calls before a model's timed ones: a worker that has served a few hundred requests, its
 * code optimized (a second core's helper thread, engine/split.ts, takes a few dozen calls to get there).
 */
const WARM_CALLS = 40;

export const better = (a: EngineTiming | null, b: EngineTiming): EngineTiming => (a && a.totalMs <= b.totalMs ? a : b);

/** The job with its own copy of every tensor, as each request's job is decoded into fresh buffers. */
function freshCopy(job: GradientsJob): GradientsJob {
  const copy = (t: Tensor): Tensor => ({ shape: t.shape, data: t.data.slice() });
  const copyAll = (ts: Tensors): Tensors => Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, copy(t)]));
  const { params, inputs, targets } = job;
  return {
    ...job,
    params: copyAll(params),
    inputs: 'data' in inputs ? copy(inputs as Tensor) : copyAll(inputs as Tensors),
    ...(targets ? { targets: copy(targets) } : {}),
  };
}

/** Median forward and backward times of one job's gradients() over `runs` calls, as a worker runs them. */
export async function engineTiming(job: GradientsJob, warmup: number, runs: number, limits: Limits = LIMITS): Promise<EngineTiming> {
  const samples = await repeat(warmup, runs, () => {
    // as the worker runs a request (workers/worker.ts): a job of its own, whose buffers are donated
    // once answered, so the next call's gradients reuse memory instead of faulting in fresh pages
    const own = freshCopy(job);
    const t0 = performance.now();
    const r = gradients(own, limits);
    const wallMs = performance.now() - t0;
    donateBuffers(own, r);
    return { ...r.timing, wallMs };
  });
  const forwardMs = median(samples.map((s) => s.forwardMs));
  const backwardMs = median(samples.map((s) => s.backwardMs));
  return { forwardMs, backwardMs, totalMs: forwardMs + backwardMs, wallMs: median(samples.map((s) => s.wallMs)) };
}

/** max |a − b| over all gradients, relative to the largest |b|. */
function relDiff(peer: Record<string, Float32Array>, ours: Tensors): number {
  let diff = 0;
  let scale = 0;
  for (const [name, t] of Object.entries(ours)) {
    const p = peer[name];
    if (!p || p.length !== t.data.length) return Infinity;
    for (let i = 0; i < p.length; i++) {
      diff = Math.max(diff, Math.abs(p[i]! - t.data[i]!));
      scale = Math.max(scale, Math.abs(t.data[i]!));
    }
  }
  return diff / scale;
}

/**
 * OpenBLAS threads of a request that is alone in the default pool (WORKERS = cores): its own core and
 * the idle workers' (src/engine/kernels/threads.ts); 1 when the library is not OpenBLAS.
 */
export function loneRequestThreads(backend: string): number {
  return backend === 'openblas' && !process.env.OPENBLAS_NUM_THREADS ? os.availableParallelism() : 1;
}

/**
 * A model's gradient on the engine (the lone request's OpenBLAS threads) against the same model in a
 * PyTorch peer script, in alternating rounds, each keeping its better one; the rows of both, with the
 * targets of a model bench (forward + backward ≤ 1.5 × PyTorch, backward / forward ≤ 2.5) labelled
 * `what`. Returns the peer's result (its savedBytes, for the memory rows), null without PyTorch.
 */
export async function modelVersusTorch(
  ctx: Ctx,
  m: { what: string; job: GradientsJob; limits?: Limits; key: string; script: string; config: Record<string, unknown> },
  row: (name: string, value: number, unit: string, extra?: Partial<Row>) => void,
): Promise<TorchResult | null> {
  const backend = initKernels();
  const lone = loneRequestThreads(backend);
  let engine: EngineTiming | null = null;
  let torch: TorchResult | null = null;
  // as a pool worker's, once its first request of the kind has started it
  if (lone > 1) await startHelper();
  for (let r = 1; r <= ROUNDS; r++) {
    ctx.log(`${m.what}: round ${r} of ${ROUNDS}: engine (${backend}, ${lone} threads), PyTorch`);
    setBlasThreads(lone);
    try {
      engine = better(engine, await engineTiming(m.job, WARM_CALLS, 15, m.limits));
    } finally {
      setBlasThreads(1);
    }
    await breathe(50);
    torch = await torchScript(ctx, m.key, m.script, m.config);
  }
  const label = `gradserve (${backend}${backend === 'openblas' ? `, ${lone} thread${lone > 1 ? 's' : ''}` : ''})`;
  row(`${label} forward`, engine!.forwardMs, 'ms');
  row(`${label} backward`, engine!.backwardMs, 'ms');
  row(`${label} forward + backward`, engine!.totalMs, 'ms');
  row(`${label} backward / forward`, engine!.backwardMs / engine!.forwardMs, '×', { target: { op: '<=', limit: 2.5, label: `${m.what} backward / forward` } });
  const best = torchRows(torch, row);
  if (torch && best) {
    row(`${label} compute / ${best}`, engine!.totalMs / torch.best.totalMs, '×', { target: { op: '<=', limit: 1.5, label: `${m.what} compute / PyTorch` } });
  }
  return torch;
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const defaultBackend = initKernels();
  const lone = loneRequestThreads(defaultBackend);
  for (const m of [LARGE, SMALL]) {
    const big = m === LARGE;
    const row = (name: string, value: number, unit: string, extra: Partial<Row> = {}) =>
      rows.push({ scenario: 'compute', name: `${m.key} (${describe(m)}): ${name}`, value: round(value, unit === 'ms' ? 3 : 2), exact: value, unit, ...extra });

    // In-process, as the worker of a lone request runs it at the default config; with one OpenBLAS
    // thread, as each of two concurrent requests runs; with BLAS=off; and PyTorch. The machine's load
    // drifts, so that sequence runs twice and every contender keeps its better round.
    const label = `gradserve (${defaultBackend}${defaultBackend === 'openblas' ? `, ${lone} thread${lone > 1 ? 's' : ''}` : ''})`;
    let engine: EngineTiming | null = null;
    let single: EngineTiming | null = null;
    let wasm: EngineTiming | null = null;
    let torch: TorchResult | null = null;
    for (let r = 1; r <= ROUNDS; r++) {
      ctx.log(`compute: ${m.key} model, round ${r} of ${ROUNDS}: engine (${defaultBackend}, ${lone} and 1 threads), BLAS=off, PyTorch`);
      setBlasThreads(lone);
      try {
        engine = better(engine, await engineTiming(mlpJob(m), big ? 5 : 20, big ? 21 : 101));
      } finally {
        setBlasThreads(1);
      }
      if (lone > 1) single = better(single, await engineTiming(mlpJob(m), big ? 3 : 10, big ? 15 : 51));
      await breathe(50);
      setGemmBackend(loadWasmBackend());
      try {
        wasm = better(wasm, await engineTiming(mlpJob(m), big ? 2 : 10, big ? 9 : 51));
      } finally {
        initKernels();
      }
      if (gemmBackend().name !== defaultBackend) throw new Error('compute bench: could not restore the default gemm backend');
      await breathe(50);
      torch = await torchPeer(ctx, m);
    }
    row(`${label} forward`, engine!.forwardMs, 'ms');
    row(`${label} backward`, engine!.backwardMs, 'ms');
    row(`${label} forward + backward`, engine!.totalMs, 'ms');
    row(`${label} backward / forward`, engine!.backwardMs / engine!.forwardMs, '×', big ? { target: { op: '<=', limit: 2.5, label: 'backward / forward' } } : {});
    row(`${label} whole gradients() call`, engine!.wallMs, 'ms');
    if (single) {
      row(`gradserve (${defaultBackend}, 1 thread) forward + backward`, single.totalMs, 'ms', {
        forwardMs: round(single.forwardMs), backwardMs: round(single.backwardMs),
      });
    }
    row('gradserve (wasm, BLAS=off) forward + backward', wasm!.totalMs, 'ms');
    const best = torchRows(torch, row);
    if (torch && best) {
      // the target is judged on the service's own timing (http-large); these are the engine alone
      row(`${label} compute / ${best}`, engine!.totalMs / torch.best.totalMs, '×');
      if (single) row(`gradserve (${defaultBackend}, 1 thread) compute / ${best}`, single.totalMs / torch.best.totalMs, '×');
      row(`gradserve (wasm, BLAS=off) compute / ${best}`, wasm!.totalMs / torch.best.totalMs, '×',
        big ? { target: { op: '<=', limit: 5, label: 'BLAS=off compute / PyTorch' } } : {});
    }

    const reference = gradients(mlpJob(m), LIMITS).gradients;
    for (const backend of ['wasm', 'cpu'] as TfBackend[]) {
      const name = backend === 'cpu' ? 'tfjs cpu' : 'tfjs-backend-wasm';
      ctx.log(`compute: ${m.key} model, ${name}`);
      let t: TfjsResult;
      try {
        // the cpu backend is plain JavaScript: a large-model gradient takes about a second
        t = await tfjsPeer(ctx.root, backend, m, mlpData(m), big ? 1 : 5, big ? (backend === 'cpu' ? 3 : 7) : 21);
      } catch (err) {
        row(name, NaN, 'ms', { note: `skipped: ${(err as Error).message}` });
        continue;
      }
      row(`${name} forward + backward`, t.totalMs, 'ms', {
        forwardMs: round(t.forwardMs),
        backwardMs: round(t.backwardMs),
        // the peer computes the same gradients: largest difference relative to the largest gradient
        maxRelDiff: Number(relDiff(t.gradients, reference).toPrecision(2)),
      });
      row(`${label} compute / ${name}`, engine!.totalMs / t.totalMs, '×');
      await breathe(50);
    }
  }
  return rows;
}
