import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { LimitError, SpecError } from '../engine/errors.js';
import { countInFlight, newCoreShareState } from '../engine/kernels/threads.js';
import { HttpError } from '../errors.js';
import { collectTransferables, now, type Envelope, type Reply, type Task } from './protocol.js';

// The compute pool: a fixed set of worker threads behind a bounded queue. The event loop only
// decodes and encodes; every computation runs here, under a time limit.

export interface PoolOptions {
  workers: number;
  queueLimit: number;
  timeoutMs: number;
  blas: string;
  /** compiled worker module; default: worker.js beside this module's compiled form */
  filename?: string;
  /** V8 heap limits per worker thread; a worker over them dies alone (WORKER_CRASHED), not the process */
  resourceLimits?: ResourceLimits;
}

export interface TaskOutcome<R> {
  result: R;
  /** waiting for a free worker */
  queueMs: number;
  /** inside the worker */
  computeMs: number;
}

export interface Pool {
  run<R>(task: Task, signal?: AbortSignal): Promise<TaskOutcome<R>>;
  /** starts the workers and reports the kernel backend they selected */
  start(): Promise<string>;
  readonly queueDepth: number;
  readonly busyWorkers: number;
  readonly workers: number;
  /** worker threads started so far: the pool's own, then one per worker that died or was stopped */
  readonly workerStarts: number;
  /** every worker busy and the queue at its limit: the next task would be refused */
  readonly full: boolean;
  /** the 503 a refused task gets, with its Retry-After */
  queueFull(): Error;
  close(): Promise<void>;
  /** called after each task with its kind and compute time (metrics) */
  onTaskDone?: (kind: Task['kind'], computeMs: number) => void;
  /** a worker failed with no request of its own to fail (e.g. an error thrown from a timer); it is replaced */
  onWorkerError?: (err: unknown) => void;
}

/** Under vitest the sources run as .ts; the pool still needs the compiled worker (npm test builds it). */
export function defaultWorkerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  return here.endsWith('.ts')
    ? path.resolve(dir, '../../dist/src/workers/worker.js')
    : path.resolve(dir, 'worker.js');
}

/** control[STOP]: set to ask the task to stop; control[STARTED]: set by the worker when it begins */
const STOP = 0;
const STARTED = 1;

const clientClosed = () => new HttpError('CLIENT_CLOSED', 'the client closed the connection; computation stopped');

/** piscina's error for a worker thread that ended under a task: it exited, or V8 stopped it at its heap limit. */
function workerDied(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.message.startsWith('worker exited with code') || (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

export class PiscinaPool implements Pool {
  private readonly piscina: Piscina<Envelope, Reply>;
  private inflight = 0;
  private started = 0;
  /** `inflight`, shared with the workers */
  private readonly cores = newCoreShareState();
  /** running average of compute time, for Retry-After */
  private avgMs = 100;
  onTaskDone?: (kind: Task['kind'], computeMs: number) => void;
  onWorkerError?: (err: unknown) => void;

  constructor(private readonly opts: PoolOptions) {
    this.piscina = new Piscina({
      filename: opts.filename ?? defaultWorkerFile(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      maxQueue: opts.queueLimit,
      // workers stay warm: start-up loads the kernels
      idleTimeout: Number.MAX_SAFE_INTEGER,
      // Not piscina's default 'sync': that keeps a busy worker in a synchronous Atomics.wait loop whose
      // event loop never turns, so a closed MessagePort (a streamed run's progress port) never finishes
      // closing and each one stays in the worker's memory. 'async' waits with Atomics.waitAsync.
      atomics: 'async',
      // `cores`: the count of requests in flight, shared with the workers to size OpenBLAS's threads (kernels/threads.ts)
      workerData: { blas: opts.blas, cores: { state: this.cores, workers: opts.workers } },
      ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}),
    });
    // piscina emits 'error' for a worker that fails between tasks; unheard, it would throw in this thread
    this.piscina.on('error', (err: unknown) => this.onWorkerError?.(err));
    this.piscina.on('workerCreate', () => this.started++);
  }

  get workers(): number {
    return this.opts.workers;
  }

  /** how long a running task that was asked to stop may take to do so before its thread is terminated */
  private get stopGraceMs(): number {
    return Math.min(1000, Math.max(50, this.opts.timeoutMs / 4));
  }

  get workerStarts(): number {
    return this.started;
  }

  get queueDepth(): number {
    return this.piscina.queueSize;
  }

  get busyWorkers(): number {
    return Math.min(this.opts.workers, Math.max(0, this.inflight - this.piscina.queueSize));
  }

  async start(): Promise<string> {
    // One probe per worker would need pinning; one is enough to prove the module loads and the kernels init.
    const { result } = await this.run<{ backend: string }>({ kind: 'probe' });
    return result.backend;
  }

  async run<R>(task: Task, signal?: AbortSignal): Promise<TaskOutcome<R>> {
    // piscina's maxQueue only counts tasks without an AbortSignal, and every task here has one (its
    // time limit): the bound is kept here, running and waiting together.
    if (this.full) throw this.queueFull();
    if (signal?.aborted) throw clientClosed();
    // Stopping a task (its time is up, or its client went away): piscina drops one still in the queue;
    // one that is running is asked to stop between two nodes (it does so within one op, and the worker
    // takes the next task), and its thread is terminated only if it runs on past the grace period.
    const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const abort = new AbortController();
    let stopped: 'timeout' | 'client' | null = null;
    let grace: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'client') => {
      if (stopped) return;
      stopped = why;
      if (Atomics.load(control, STARTED) === 0) {
        abort.abort(new Error(why));
        return;
      }
      Atomics.store(control, STOP, 1);
      grace = setTimeout(() => abort.abort(new Error(why)), this.stopGraceMs);
    };
    // NOTE: a timer cleared when the task ends, rather than AbortSignal.timeout, which keeps its timer
    // running for TIMEOUT_MS after each task.
    const timer = setTimeout(() => stop('timeout'), this.opts.timeoutMs);
    const onClientGone = () => stop('client');
    signal?.addEventListener('abort', onClientGone, { once: true });
    const transferList = collectTransferables(task);
    if (task.kind === 'train' && task.progress) (transferList as unknown[]).push(task.progress);
    const envelope: Envelope = { task, control, submittedAt: now() };
    this.inflight++;
    countInFlight(this.cores, 1);
    let reply: Reply;
    try {
      reply = await this.piscina.run(envelope, { transferList: transferList as never, signal: abort.signal });
    } catch (err) {
      throw this.translate(err, stopped);
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      signal?.removeEventListener('abort', onClientGone);
      this.inflight--;
      countInFlight(this.cores, -1);
    }
    const computeMs = reply.finishedAt - reply.startedAt;
    this.avgMs = 0.8 * this.avgMs + 0.2 * computeMs;
    this.onTaskDone?.(task.kind, computeMs);
    const queueMs = Math.max(0, reply.startedAt - envelope.submittedAt);
    if (!reply.ok) {
      const e = reply.error;
      if (e.kind === 'cancelled') throw stopped === 'timeout' ? this.timedOut() : clientClosed();
      throw e.kind === 'spec' ? new SpecError(e.issues) : new LimitError(e.path, e.message);
    }
    return { result: reply.result as R, queueMs, computeMs };
  }

  private timedOut(): HttpError {
    return new HttpError('TIMEOUT', `the computation took longer than ${this.opts.timeoutMs} ms and was stopped`);
  }

  private translate(err: unknown, stopped: 'timeout' | 'client' | null): unknown {
    const message = err instanceof Error ? err.message : String(err);
    if (message === 'Task queue is at limit' || message === 'No task queue available and all Workers are busy') {
      return this.queueFull();
    }
    if (stopped === 'timeout') return this.timedOut();
    if (stopped === 'client') return clientClosed();
    if (workerDied(err)) {
      return new HttpError('WORKER_CRASHED', `the worker computing this request died (${message}); it has been replaced`);
    }
    return err;
  }

  get full(): boolean {
    return this.inflight >= this.opts.workers + this.opts.queueLimit;
  }

  queueFull(): HttpError {
    const waitS = Math.max(1, Math.ceil(((this.piscina.queueSize + 1) * this.avgMs) / this.opts.workers / 1000));
    return new HttpError('QUEUE_FULL', `${this.piscina.queueSize} computations are waiting; retry later`, [], {
      'retry-after': String(waitS),
    });
  }

  async close(): Promise<void> {
    // close() lets running and queued tasks finish (their requests are still being answered)
    await this.piscina.close();
  }
}
