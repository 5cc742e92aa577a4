import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import type { DecodedModel } from '../engine/api.js';
import { LimitError, SpecError } from '../engine/errors.js';
import { costsAtMost } from '../engine/index.js';
import { initKernels } from '../engine/kernels/index.js';
import { countInFlight, inFlightHere, inFlightLately, inFlightNow, newCoreShareState, setInFlightElsewhere, setInFlightLately } from '../engine/kernels/threads.js';
import { forgetModelPlans } from '../engine/model.js';
import { keepPlans, PLAN_STATS } from '../engine/plans.js';
import { SPLIT_STATS } from '../engine/split.js';
import { HttpError } from '../errors.js';
import { perform } from './dispatch.js';
import { CLAIM, CONTROL, copiedAcross, now, type Envelope, type Reply, type Task } from './protocol.js';
import { collectTransferables } from '../wire/ownership.js';
import { ThreadEnded, Threads, type Running } from './threads.js';

// The compute pool: a fixed set of worker threads behind a bounded queue. The event loop only
// decodes and encodes; every computation runs here, under a time limit, but for the tiniest, which
// cost less than a worker's message would (PoolOptions.inPlaceFlops).

export interface PoolOptions {
  workers: number;
  queueLimit: number;
  timeoutMs: number;
  blas: string;
  /** nice levels each worker thread drops to when it starts, below the thread starting it (Linux; 0 or absent: none) */
  nice?: number;
  /** compiled worker module; default: worker.js beside this module's compiled form */
  filename?: string;
  /** V8 heap limits per worker thread; a worker over them dies alone (WORKER_CRASHED), not the process */
  resourceLimits?: ResourceLimits;
  /** bounds of each worker's compiled plans of known models (engine/plans.ts); default: none kept */
  plans?: { entries: number; bytes: number };
  /**
   * A gradients or forward task of a known model whose passes are estimated (engine/cost.ts) at most
   * this many FLOPs is computed on the calling thread as soon as it is given, not in a worker: for it
   * a message, a thread's wake-up and a reply cost more than the computation. Its time is far below
   * any time limit, so nothing needs to stop it. Default 0: every task goes to a worker.
   */
  inPlaceFlops?: number;
  /**
   * The workers of every process of the replica (PROCESSES > 1), among which OpenBLAS's thread rule
   * shares the cores (kernels/threads.ts); default `workers`. The other processes' requests in flight
   * come in through setInFlightElsewhere, this one's go out through onInFlight.
   */
  replicaWorkers?: number;
  /**
   * How long the thread rule keeps counting requests that were in flight together after their count
   * fell (kernels/threads.ts); default CONTENTION_MS.
   */
  contentionMs?: number;
}

export interface TaskOutcome<R> {
  result: R;
  /** waiting for a free worker */
  queueMs: number;
  /** inside the worker */
  computeMs: number;
}

/**
 * How a caller says that a task's answer is no longer wanted (its client went away): `onCancel`
 * registers the pool's stop and returns its removal. Not an AbortSignal: adding and removing an
 * AbortSignal's listener is slow on Node 20, and a small request would pay it on the event loop.
 */
export interface Cancellation {
  readonly cancelled: boolean;
  onCancel(stop: () => void): () => void;
}

// a class: an object literal with a getter keeps what its closure holds alive longer (routes/shared/compute.ts)
class SignalCancellation implements Cancellation {
  constructor(private readonly signal: AbortSignal) {}

  get cancelled(): boolean {
    return this.signal.aborted;
  }

  onCancel(stop: () => void): () => void {
    this.signal.addEventListener('abort', stop, { once: true });
    return () => this.signal.removeEventListener('abort', stop);
  }
}

/** An AbortSignal as a Cancellation (tests, and callers that have one anyway). */
export const cancelOn = (signal: AbortSignal): Cancellation => new SignalCancellation(signal);

export interface Pool {
  run<R>(task: Task, cancel?: Cancellation): Promise<TaskOutcome<R>>;
  /** starts the workers and reports the kernel backend they selected */
  start(): Promise<string>;
  readonly queueDepth: number;
  readonly busyWorkers: number;
  readonly workers: number;
  /** worker threads started so far: the pool's own, then one per worker that died or was stopped */
  readonly workerStarts: number;
  /** every worker busy and the queue at its limit: the next task would be refused, but for one computed in place */
  readonly full: boolean;
  /** the 503 a refused task gets, with its Retry-After */
  queueFull(): Error;
  close(): Promise<void>;
  /** called after each task with its kind and compute time (metrics) */
  onTaskDone?: (kind: Task['kind'], computeMs: number) => void;
  /** called for each task stopped before its end, with where it was and why (metrics) */
  onTaskStopped?: (stage: StopStage, why: Stop) => void;
  /** a worker failed with no request of its own to fail (e.g. an error thrown from a timer); it is replaced */
  onWorkerError?: (err: unknown) => void;
  /** drops the compiled plans of a deleted model, here and in every worker (soon: each between two batches) */
  forgetModel?(id: string): void;
  /** the workers' plan caches, summed (engine/plans.ts PLAN_STATS); absent without workers */
  readonly planStats?: BigInt64Array;
  /** the workers' second-core counts, summed (engine/split.ts SPLIT_STATS); absent without workers */
  readonly splitStats?: BigInt64Array;
  /** tasks computed on the calling thread so far (PoolOptions.inPlaceFlops) */
  readonly computedInPlace?: number;
  /** called, at most once a turn of the event loop, when the requests counted in flight here change (cluster.ts) */
  onInFlight?: (n: number) => void;
  /** the requests in flight in the replica's other processes, which OpenBLAS's thread rule counts too */
  setInFlightElsewhere?(n: number): void;
}

/** Under vitest the sources run as .ts; the pool still needs the compiled worker (npm test builds it). */
export function defaultWorkerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  return here.endsWith('.ts')
    ? path.resolve(dir, '../../dist/src/workers/worker.js')
    : path.resolve(dir, 'worker.js');
}

/**
 * The task's buffers (collectTransferables). Of its model spec only the constants are walked: they
 * are the only typed arrays a spec holds, where a large graph's nodes are many objects holding none,
 * and walking them cost the event loop as much as the rest of a small request's plumbing.
 */
function taskBuffers(task: Task): ArrayBuffer[] {
  const job = 'job' in task ? (task.job as { model?: DecodedModel } | null) : null;
  const model = job?.model;
  if (model === undefined) return collectTransferables(task);
  return collectTransferables([{ ...task, job: { ...job, model: undefined } }, model.type === 'graph' ? model.constants : null]);
}

const clientClosed = () => new HttpError('CLIENT_CLOSED', 'the client closed the connection; computation stopped');

/*
 * Tasks whose tensors take at most SMALL_BYTES are *small*: they are copied to the worker, not moved,
 * and several may share one message. Their compute is short, so one worker running a few in a row is
 * cheaper than a message, a thread wake-up and a reply for each (for the two-weight chain the hand-off
 * costs far more than the computation); and since the event loop keeps their tensors, a batch whose
 * worker dies can be sent again, less the task that killed it.
 */
/** at most this many small tasks in one message */
const MAX_BATCH = 32;
/**
 * Small tasks that compute in less than this (running average) keep to one batch in flight: a
 * second worker would add its wake-ups and messages, not speed, and what arrives meanwhile makes
 * the next batch larger.
 */
const TINY_MS = 0.5;
/**
 * A batch still running after this long has a slow task: when a worker is idle, the tasks the batch
 * has not started are taken back and sent to it, so that they do not wait behind the slow one.
 */
const STEAL_AFTER_MS = 10;
/**
 * How long the probe may wait for a worker: it is not a client's computation but the threads'
 * start-up (modules, kernels), which on a busy machine can outlast a short TIMEOUT_MS.
 */
const PROBE_LIMIT_MS = 60_000;
/**
 * While it computes tiny tasks in place, and this long after the last, the event loop counts as one
 * more request in flight: a lone large task then leaves it its core (kernels/threads.ts).
 */
const IN_PLACE_BUSY_MS = 20;
/**
 * The longest the pool goes, while it holds tasks, without looking over them (WorkerPool.sweep,
 * which also runs at the earliest deadline): it stops those whose time is up, and starts listening
 * to the clients of small tasks still running (see Item.cancel).
 */
const SWEEP_MS = 10;
/** how long close() waits for workers still loading their module (kernels, OpenBLAS) */
const LOAD_WAIT_MS = 10_000;

/** PoolOptions.contentionMs: longer than a steady stream's gaps between requests */
const CONTENTION_MS = 100;
/** An in-place task is never asked to stop: it ends long before any time limit. */
const neverStopped = () => false;

export type Stop = 'timeout' | 'client';
/**
 * Where a task was when it stopped: not yet queued (its client gone while the request was decoded),
 * waiting for a worker, running (it stopped itself between two nodes or two blocks of a product), or
 * run on past the grace period, its thread terminated.
 */
export type StopStage = 'decode' | 'queue' | 'running' | 'terminated';

interface Item {
  envelope: Envelope;
  /** moved with the task; empty for a small task, whose tensors are copied */
  transfer: TransferListItem[];
  small: boolean;
  resolve: (reply: Reply) => void;
  reject: (err: unknown) => void;
  /** answered or failed: later news of it is dropped */
  settled: boolean;
  stopped: Stop | null;
  /** the batch it was last sent in; null while it waits here */
  batch: InFlight | null;
  /** sent again after its batch's worker died */
  retried: boolean;
  /** performance.now() at which its time is up */
  deadline: number;
  /**
   * its client going away. A large task listens from the start. A small one listens only once a sweep
   * finds it still there (the sweep first checks whether its client has gone already): most end before
   * a sweep comes, a listener added and removed for each cost the event loop more than the sweep's
   * timer, and a gone client's small task computes at most SWEEP_MS longer.
   */
  cancel: Cancellation | undefined;
  unsubscribe?: () => void;
  grace?: NodeJS.Timeout;
  /** its neighbours among the tasks not yet settled (WorkerPool.oldest), oldest first */
  older: Item | null;
  newer: Item | null;
}

interface InFlight {
  items: Item[];
  /** on its thread, once sent */
  running: Running | null;
  /** counted in smallRunning */
  small: boolean;
  steal?: NodeJS.Timeout;
}

const newControl = () => new Int32Array(new SharedArrayBuffer(CONTROL.LENGTH * Int32Array.BYTES_PER_ELEMENT));

/** Takes back a task its worker has not started (the worker will skip it); false once it has. */
function withdraw(item: Item): boolean {
  return Atomics.compareExchange(item.envelope.control, CONTROL.CLAIM, CLAIM.FREE, CLAIM.WITHDRAWN) === CLAIM.FREE;
}

export class WorkerPool implements Pool {
  private readonly threads: Threads;
  /** tasks accepted and not yet answered: waiting here, or sent */
  private inflight = 0;
  /** tasks not yet sent to a worker, oldest first */
  private readonly pending: Item[] = [];
  /** batches sent and not yet answered: at most one per worker */
  private running = 0;
  private dispatchScheduled = false;
  private drained: (() => void)[] = [];
  private sent = 0;
  /** `inflight`, shared with the workers */
  private readonly cores = newCoreShareState();
  /** running average of compute time, for Retry-After */
  private avgMs = 100;
  /** running average of a small task's compute time, and batches of small tasks in flight */
  private smallAvgMs = TINY_MS;
  private smallRunning = 0;
  /** by model, the running share of its jobs sent without their spec that had to go again (leavesSpecOut) */
  private readonly specMisses = new Map<string, number>();
  private specProbe = 0;
  /** this thread's kernels are chosen (start), so tiny tasks may be computed here */
  private inPlaceBackend: string | null = null;
  private inPlaceCount = 0;
  private inPlaceLast = 0;
  private inPlaceHeld: NodeJS.Timeout | null = null;
  onTaskDone?: (kind: Task['kind'], computeMs: number) => void;
  onTaskStopped?: (stage: StopStage, why: Stop) => void;
  onWorkerError?: (err: unknown) => void;
  onInFlight?: (n: number) => void;
  private inFlightReported = 0;
  /** the most requests in flight onInFlight tells: from min(cores, workers) up, the thread rule gives one thread to all */
  private readonly inFlightCap: number;
  private inFlightReport: NodeJS.Immediate | null = null;
  private inFlightFall: NodeJS.Timeout | null = null;
  private latelyDrop: NodeJS.Timeout | null = null;
  readonly planStats = new BigInt64Array(new SharedArrayBuffer(PLAN_STATS.LENGTH * 8));
  readonly splitStats = new BigInt64Array(new SharedArrayBuffer(SPLIT_STATS.LENGTH * 8));
  /** to every worker: the ids of models deleted; a pool's own, as a process may hold several */
  private readonly deleted = new BroadcastChannel(`gradserve-deleted-models-${randomUUID()}`);
  /**
   * The tasks not yet settled, whose deadlines and clients the sweep looks at: a list through the
   * tasks themselves. NOTE: not a Set. With a Set of them (long-lived, so in the old generation),
   * young collections kept finished tasks and their requests alive and promoted them: 96–200 KB
   * promoted per young collection under a stream of small requests, 12 KB with this list. Likely the
   * tables the Set leaves behind as it rehashes, which point at their entries until a full collection.
   */
  private oldest: Item | null = null;
  private newest: Item | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** performance.now() at which sweepTimer fires */
  private sweepAt = 0;

  constructor(private readonly opts: PoolOptions) {
    this.inFlightCap = Math.min(os.availableParallelism(), opts.replicaWorkers ?? opts.workers);
    this.threads = new Threads({
      filename: opts.filename ?? defaultWorkerFile(),
      count: opts.workers,
      // `cores`: the count of requests in flight, shared with the workers to size OpenBLAS's threads (kernels/threads.ts)
      // `plans`: each worker's bounds, and the counters all of them add to (engine/plans.ts)
      workerData: {
        blas: opts.blas,
        nice: opts.nice ?? 0,
        cores: { state: this.cores, workers: opts.replicaWorkers ?? opts.workers },
        plans: { entries: opts.plans?.entries ?? 0, bytes: opts.plans?.bytes ?? 0, stats: this.planStats, deleted: this.deleted.name },
        split: this.splitStats,
      },
      ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}),
    });
    this.threads.onError = (err) => this.onWorkerError?.(err);
    this.deleted.unref();
  }

  get workers(): number {
    return this.opts.workers;
  }

  /** Counts a request in or out for OpenBLAS's thread rule, and tells onInFlight once this turn ends. */
  private countInFlight(delta: 1 | -1): void {
    countInFlight(this.cores, delta);
    this.noteLately();
    if (this.onInFlight === undefined || this.inFlightReport !== null) return;
    this.inFlightReport = setImmediate(() => {
      this.inFlightReport = null;
      this.tellInFlight(false);
    });
  }

  /**
   * Tells onInFlight the count when it has changed: a rise at once, a fall once `contentionMs` have
   * passed (`late`), as the rule believes a fall only then; a stream of requests, counted out and in
   * again each turn, is then told a few times a second, not every turn.
   */
  private tellInFlight(late: boolean): void {
    const n = Math.min(inFlightHere(this.cores), this.inFlightCap);
    if (n < this.inFlightReported && !late) {
      this.inFlightFall ??= setTimeout(() => {
        this.inFlightFall = null;
        this.tellInFlight(true);
      }, this.opts.contentionMs ?? CONTENTION_MS).unref();
      return;
    }
    if (n === this.inFlightReported) return;
    if (this.inFlightFall !== null) clearTimeout(this.inFlightFall);
    this.inFlightFall = null;
    this.inFlightReported = n;
    this.onInFlight?.(n);
  }

  setInFlightElsewhere(n: number): void {
    setInFlightElsewhere(this.cores, n);
    this.noteLately();
  }

  /**
   * Keeps the most requests in flight lately (here and elsewhere), which the thread rule counts: raised
   * at once, lowered only once the count has stayed below it for `contentionMs` (kernels/threads.ts).
   */
  private noteLately(): void {
    const now = inFlightNow(this.cores);
    if (now >= inFlightLately(this.cores)) {
      setInFlightLately(this.cores, now);
      if (this.latelyDrop !== null) clearTimeout(this.latelyDrop);
      this.latelyDrop = null;
    } else if (this.latelyDrop === null) {
      this.latelyDrop = setTimeout(() => {
        this.latelyDrop = null;
        setInFlightLately(this.cores, 0);
        this.noteLately();
      }, this.opts.contentionMs ?? CONTENTION_MS).unref();
    }
  }

  /** how long a running task that was asked to stop may take to do so before its thread is terminated */
  private get stopGraceMs(): number {
    return Math.min(1000, Math.max(50, this.opts.timeoutMs / 4));
  }

  get workerStarts(): number {
    return this.threads.started;
  }

  /** messages sent to the workers so far (a batch of small tasks is one) */
  get batchesSent(): number {
    return this.sent;
  }

  get queueDepth(): number {
    return Math.max(0, this.inflight - this.running);
  }

  get busyWorkers(): number {
    return this.running;
  }

  get computedInPlace(): number {
    return this.inPlaceCount;
  }

  async start(): Promise<string> {
    // One probe per worker would need pinning; one is enough to prove the module loads and the kernels init.
    const { result } = await this.run<{ backend: string }>({ kind: 'probe' });
    if ((this.opts.inPlaceFlops ?? 0) > 0) {
      // the same kernels as the workers', so that a task's answer does not depend on where it ran;
      // and plans kept here too, counted with the workers'
      this.inPlaceBackend = initKernels(this.opts.blas);
      keepPlans(this.opts.plans?.entries ?? 0, this.opts.plans?.bytes ?? 0, this.planStats);
    }
    return result.backend;
  }

  async run<R>(task: Task, cancel?: Cancellation): Promise<TaskOutcome<R>> {
    if (cancel?.cancelled) {
      this.onTaskStopped?.('decode', 'client');
      throw clientClosed();
    }
    // a task computed here never waits in the queue: a full one does not refuse it
    const here = this.inPlace(task);
    if (here !== undefined) return this.outcome(task, here, 0, null);
    if (this.full) throw this.queueFull();
    const buffers = taskBuffers(task);
    // a training run streams its steps through its port for as long as it runs: never small
    const small = task.kind !== 'train' && copiedAcross(buffers);
    const transfer: TransferListItem[] = small ? [] : buffers;
    if (task.kind === 'train' && task.progress) transfer.push(task.progress);
    const stripped = small && this.leavesSpecOut(task);
    const envelope: Envelope = { task: stripped ? { ...task, job: { ...task.job, model: undefined } } : task, control: newControl(), submittedAt: now() };

    let reply: Reply;
    let item!: Item;
    const limitMs = task.kind === 'probe' ? Math.max(PROBE_LIMIT_MS, this.opts.timeoutMs) : this.opts.timeoutMs;
    const deadline = performance.now() + limitMs;
    const exchange = (envelope: Envelope) =>
      new Promise<Reply>((resolve, reject) => {
        item = { envelope, transfer, small, resolve, reject, settled: false, stopped: null, batch: null, retried: false, deadline, cancel, older: null, newer: null };
        this.watch(item);
        this.enqueue(item);
      });
    this.inflight++;
    this.countInFlight(1);
    try {
      reply = await exchange(envelope);
      if (stripped) {
        const missed = !reply.ok && reply.error.kind === 'model-not-sent';
        const id = task.job.modelId!;
        if (this.specMisses.size >= 4096) this.specMisses.clear();
        this.specMisses.set(id, 0.8 * (this.specMisses.get(id) ?? 0) + (missed ? 0.2 : 0));
        // a small task's tensors were copied, not moved: the event loop still holds them
        if (missed) reply = await exchange({ task, control: newControl(), submittedAt: envelope.submittedAt });
      }
    } finally {
      clearTimeout(item.grace);
      this.inflight--;
      this.countInFlight(-1);
    }
    const computeMs = reply.finishedAt - reply.startedAt;
    this.avgMs = 0.8 * this.avgMs + 0.2 * computeMs;
    if (small) this.smallAvgMs = 0.8 * this.smallAvgMs + 0.2 * computeMs;
    return this.outcome(task, reply, Math.max(0, reply.startedAt - item.envelope.submittedAt), item.stopped);
  }

  /**
   * A task of a known model computed here, when its estimated cost is at most inPlaceFlops; undefined
   * when it goes to a worker. Its request's errors, found while costing it, are left to the worker to
   * report as it reports any task's.
   */
  private inPlace(task: Task): Reply | undefined {
    const maxFlops = this.opts.inPlaceFlops ?? 0;
    if (this.inPlaceBackend === null || (task.kind !== 'gradients' && task.kind !== 'forward') || task.job.modelId === undefined) return undefined;
    try {
      if (!costsAtMost(task.job, task.limits, maxFlops)) return undefined;
    } catch {
      return undefined;
    }
    this.inPlaceCount++;
    this.inPlaceLast = performance.now();
    if (this.inPlaceHeld === null) {
      this.countInFlight(1);
      const release = () => {
        const idle = performance.now() - this.inPlaceLast;
        if (idle < IN_PLACE_BUSY_MS) {
          this.inPlaceHeld = setTimeout(release, IN_PLACE_BUSY_MS - idle).unref();
          return;
        }
        this.inPlaceHeld = null;
        this.countInFlight(-1);
      };
      this.inPlaceHeld = setTimeout(release, IN_PLACE_BUSY_MS).unref();
    }
    return perform(task, neverStopped, this.inPlaceBackend);
  }

  /** The task's reply as its outcome, or as the error its request gets. */
  private outcome<R>(task: Task, reply: Reply, queueMs: number, stopped: Stop | null): TaskOutcome<R> {
    const computeMs = reply.finishedAt - reply.startedAt;
    this.onTaskDone?.(task.kind, computeMs);
    if (!reply.ok) {
      const e = reply.error;
      if (e.kind === 'cancelled') {
        this.onTaskStopped?.('running', stopped ?? 'client');
        throw stopped === 'timeout' ? this.timedOut() : clientClosed();
      }
      if (e.kind === 'model-not-sent') throw new Error('a worker had no plan for a job sent with its spec');
      if (e.kind === 'internal') throw Object.assign(new Error(e.message), e.stack ? { stack: e.stack } : {});
      throw e.kind === 'spec' ? new SpecError(e.issues) : new LimitError(e.path, e.message, e.bound);
    }
    return { result: reply.result as R, queueMs, computeMs };
  }

  /**
   * Whether a small job of a known model goes without its spec: the workers keep compiled plans
   * (engine/plans.ts), so one that computed the model for these shapes before needs only the id, and
   * posting a large spec with every job costs the event loop in proportion to its size. A worker
   * without the plan answers model-not-sent and the job goes again, whole (the first job of a model on
   * each worker). While a model's jobs keep missing (shapes that keep changing, plans evicted), its
   * spec goes along, but for one job in 16, which keeps measuring.
   */
  private leavesSpecOut(task: Task): task is Extract<Task, { kind: 'gradients' | 'forward' }> {
    if (task.kind !== 'gradients' && task.kind !== 'forward') return false;
    const id = task.job?.modelId;
    if (id === undefined || task.job.model === undefined || !((this.opts.plans?.entries ?? 0) > 0)) return false;
    return (this.specMisses.get(id) ?? 0) < 0.5 || (++this.specProbe & 15) === 0;
  }

  /**
   * Stopping a task (its time is up, or its client went away). One not yet sent is dropped; one sent
   * but not started is taken back and fails now; one that is running is asked to stop between two
   * nodes (it does so within one op), and its thread is terminated only if it runs on past the grace
   * period.
   */
  private stop(item: Item, why: Stop): void {
    if (item.settled || item.stopped) return;
    item.stopped = why;
    Atomics.store(item.envelope.control, CONTROL.STOP, 1);
    const batch = item.batch;
    if (batch === null) this.pending.splice(this.pending.indexOf(item), 1);
    if (batch === null || withdraw(item)) {
      this.onTaskStopped?.('queue', why);
      this.settle(item, null, this.stopError(why));
      return;
    }
    item.grace = setTimeout(() => {
      this.onTaskStopped?.('terminated', why);
      batch.running?.terminate();
    }, this.stopGraceMs);
  }

  private stopError(why: Stop): HttpError {
    return why === 'timeout' ? this.timedOut() : clientClosed();
  }

  private settle(item: Item, reply: Reply | null, err?: unknown): void {
    if (item.settled) return;
    item.settled = true;
    item.unsubscribe?.();
    this.unwatch(item);
    if (reply) item.resolve(reply);
    else item.reject(err);
  }

  /**
   * Keeps a task's deadline and client in view until it settles. NOTE: one timer for the pool, not
   * one per task (nor AbortSignal.timeout, which keeps its timer running for TIMEOUT_MS after each task).
   */
  private watch(item: Item): void {
    item.older = this.newest;
    if (this.newest === null) this.oldest = item;
    else this.newest.newer = item;
    this.newest = item;
    if (!item.small && item.cancel) item.unsubscribe = item.cancel.onCancel(() => this.stop(item, 'client'));
    this.sweepBy(Math.min(item.deadline, performance.now() + SWEEP_MS));
  }

  private unwatch(item: Item): void {
    if (item.older === null) this.oldest = item.newer;
    else item.older.newer = item.newer;
    if (item.newer === null) this.newest = item.older;
    else item.newer.older = item.older;
    item.older = item.newer = null;
    if (this.oldest === null && this.sweepTimer !== null) {
      clearTimeout(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  /** Arms the sweep to run at `at` at the latest. */
  private sweepBy(at: number): void {
    if (this.sweepTimer !== null) {
      if (this.sweepAt <= at) return;
      clearTimeout(this.sweepTimer);
    }
    this.sweepAt = at;
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, at - performance.now()));
  }

  /** Stops the tasks whose time is up or whose client has gone, and listens to the clients of those still here. */
  private sweep(): void {
    this.sweepTimer = null;
    const at = performance.now();
    let next = at + SWEEP_MS;
    for (let item = this.oldest, newer: Item | null; item !== null; item = newer) {
      newer = item.newer; // before stop() may settle it, which takes it out of the list
      if (item.stopped !== null) continue; // stopping already; settled by its reply or its batch's end
      if (item.deadline <= at) {
        this.stop(item, 'timeout');
        continue;
      }
      next = Math.min(next, item.deadline);
      if (item.cancel && item.unsubscribe === undefined) {
        if (item.cancel.cancelled) this.stop(item, 'client');
        else item.unsubscribe = item.cancel.onCancel(() => this.stop(item, 'client'));
      }
    }
    if (this.oldest !== null) this.sweepBy(next);
  }

  private enqueue(item: Item): void {
    this.pending.push(item);
    if (this.running >= this.opts.workers) return;
    // a large task goes alone: at once, when nothing waits before it
    if (!item.small && this.pending.length === 1) {
      this.dispatch();
      return;
    }
    // small tasks that arrive in the same turn of the event loop leave together
    if (!this.dispatchScheduled) {
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    }
  }

  /**
   * Sends what is waiting to the idle workers. A large task goes alone; small ones go in batches of
   * an even share of what waits, so that the other workers get theirs as they come free; tiny ones
   * (TINY_MS) all to one worker at a time.
   */
  private dispatch(): void {
    while (this.pending.length > 0 && this.running < this.opts.workers) {
      let n = 1;
      if (this.pending[0]!.small) {
        const tiny = this.smallAvgMs < TINY_MS;
        if (tiny && this.smallRunning > 0) break;
        const share = Math.min(MAX_BATCH, tiny ? this.pending.length : Math.ceil(this.pending.length / this.opts.workers));
        while (n < share && this.pending[n]!.small) n++;
      }
      this.send(this.pending.splice(0, n));
    }
    if (this.pending.length === 0 && this.running === 0) for (const done of this.drained.splice(0)) done();
  }

  private send(items: Item[]): void {
    const batch: InFlight = { items, running: null, small: items[0]!.small };
    const transferList: TransferListItem[] = [];
    for (const item of items) {
      item.batch = batch;
      transferList.push(...item.transfer);
    }
    this.running++;
    if (batch.small) this.smallRunning++;
    this.sent++;
    if (items.length > 1) batch.steal = setTimeout(() => this.steal(batch), STEAL_AFTER_MS);
    batch.running = this.threads.run({ batch: items.map((i) => i.envelope) }, transferList);
    batch.running.replies
      .then(
        (replies) => items.forEach((item, i) => item.batch === batch && this.settle(item, replies[i]!)),
        (err: unknown) => this.batchFailed(batch, err),
      )
      .finally(() => {
        clearTimeout(batch.steal);
        this.running--;
        if (batch.small) this.smallRunning--;
        this.dispatch();
      });
  }

  /** A batch that runs long while a worker is idle: the tasks it has not started go to that worker. */
  private steal(batch: InFlight): void {
    if (this.running >= this.opts.workers) {
      batch.steal = setTimeout(() => this.steal(batch), STEAL_AFTER_MS);
      return;
    }
    const taken = batch.items.filter((item) => item.batch === batch && withdraw(item));
    if (taken.length === 0) return;
    // no longer a batch of tiny tasks: it does not hold the others back
    if (batch.small) {
      batch.small = false;
      this.smallRunning--;
    }
    this.requeue(taken);
    this.dispatch();
  }

  /** Back to the head of the queue, with a fresh control: the old one stays withdrawn for the old batch. */
  private requeue(items: Item[]): void {
    for (const item of items) {
      item.batch = null;
      item.envelope = { ...item.envelope, control: newControl() };
    }
    this.pending.unshift(...items);
  }

  /**
   * A batch's thread ended under it: it died, or it was terminated because a task did not stop. The
   * task it was running (started, not done) fails; the small tasks it had not started, or had done
   * without being able to answer, are sent again (once: their tensors were copied, and a computation
   * has no effect but its answer).
   */
  private batchFailed(batch: InFlight, err: unknown): void {
    const died = err instanceof ThreadEnded;
    const again: Item[] = [];
    for (const item of batch.items) {
      if (item.settled || item.batch !== batch) continue;
      const innocent = withdraw(item) || Atomics.load(item.envelope.control, CONTROL.DONE) === 1;
      if (died && item.stopped === null && item.small && !item.retried && innocent) {
        item.retried = true;
        again.push(item);
      } else {
        this.settle(item, null, this.translate(err, item.stopped));
      }
    }
    this.requeue(again);
  }

  private timedOut(): HttpError {
    return new HttpError('TIMEOUT', `the computation took longer than ${this.opts.timeoutMs} ms and was stopped`);
  }

  private translate(err: unknown, stopped: Stop | null): unknown {
    if (stopped) return this.stopError(stopped);
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ThreadEnded && err.terminated) {
      // its batch's thread was terminated for another task that did not stop
      return new HttpError('WORKER_CRASHED', 'the worker computing this request was stopped with another request past its time limit; it has been replaced');
    }
    if (err instanceof ThreadEnded) {
      return new HttpError('WORKER_CRASHED', `the worker computing this request died (${message}); it has been replaced`);
    }
    return err;
  }

  forgetModel(id: string): void {
    forgetModelPlans(id);
    this.deleted.postMessage(id);
  }

  get full(): boolean {
    return this.inflight >= this.opts.workers + this.opts.queueLimit;
  }

  queueFull(): HttpError {
    const waiting = this.queueDepth;
    const waitS = Math.max(1, Math.ceil(((waiting + 1) * this.avgMs) / this.opts.workers / 1000));
    return new HttpError('QUEUE_FULL', `${waiting} computations are waiting; retry later`, [], {
      'retry-after': String(waitS),
    });
  }

  async close(): Promise<void> {
    // running and waiting tasks finish first (their requests are still being answered)
    if (this.pending.length > 0 || this.running > 0) await new Promise<void>((r) => this.drained.push(r));
    // A thread terminated while its module still loads takes the whole process down: koffi's start-up
    // (OpenBLAS) then fails in a thread that can no longer run JavaScript, and a native add-on's failed
    // start-up aborts. So every worker loads first (one that fails to load exits, and leaves the list).
    const end = Date.now() + LOAD_WAIT_MS;
    while (this.threads.loading > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await this.threads.close();
    this.deleted.close();
  }
}
