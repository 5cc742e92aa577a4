import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import type { Batch, Reply } from './protocol.js';

// The pool's worker threads: workers/pool.ts decides what runs where and when, these only run it. Each
// thread runs one batch at a time; a thread that ends (it exited, V8 stopped it at its heap limit, or
// the pool terminated it) fails the batch it was running and is replaced.

export interface ThreadsOptions {
  /** the compiled worker module (worker.ts) */
  filename: string;
  count: number;
  workerData: unknown;
  resourceLimits?: ResourceLimits;
}

/** A batch's thread ended under it. `terminated`: by the pool (Running.terminate), for a task that did not stop. */
export class ThreadEnded extends Error {
  override name = 'ThreadEnded';
  constructor(
    message: string,
    readonly terminated: boolean,
  ) {
    super(message);
  }
}

/** A batch on its thread. */
export interface Running {
  readonly replies: Promise<Reply[]>;
  /** ends the thread, and the batch with it (ThreadEnded, terminated) */
  terminate(): void;
}

/** What a worker thread posts: its module loaded, a batch's replies, or the error that failed the batch. */
export type FromWorker = { loaded: true } | { replies: Reply[] } | { error: unknown };

interface Thread {
  worker: Worker;
  /** its module has loaded (FromWorker): only then may it be terminated safely (Threads.close) */
  loaded: boolean;
  /** the batch it runs */
  job: { resolve: (replies: Reply[]) => void; reject: (err: unknown) => void } | null;
  /** ended by terminate() */
  terminated: boolean;
  /** failed or exited (Threads.end) */
  ended: boolean;
}

export class Threads {
  private readonly idle: Thread[] = [];
  private readonly live = new Set<Thread>();
  private closing = false;
  /** a thread that failed before its module loaded: not replaced (a bad setting would fail every new one) */
  private bootError: Error | null = null;
  /** threads started so far: the first `count`, then one per thread that ended */
  started = 0;
  /** a thread failed with no batch of its own to fail (e.g. an error thrown from a timer) */
  onError?: (err: unknown) => void;

  constructor(private readonly opts: ThreadsOptions) {
    for (let i = 0; i < opts.count; i++) this.spawn();
  }

  private spawn(): void {
    const { filename, workerData, resourceLimits } = this.opts;
    const worker = new Worker(filename, { workerData, ...(resourceLimits ? { resourceLimits } : {}) });
    const t: Thread = { worker, loaded: false, job: null, terminated: false, ended: false };
    this.started++;
    this.live.add(t);
    this.idle.push(t);
    // an idle thread does not keep the process alive
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if ('loaded' in m) {
        t.loaded = true;
        return;
      }
      const job = t.job;
      if (job === null) return;
      t.job = null;
      worker.unref();
      // terminated as its answer came: it is ending, and takes no other batch
      if (!t.terminated && !t.ended) this.idle.push(t);
      if ('replies' in m) job.resolve(m.replies);
      else job.reject(m.error);
    });
    worker.on('error', (err) => {
      if (t.job === null && !t.ended) this.onError?.(err);
      this.end(t, err);
    });
    worker.on('exit', (code) => {
      this.live.delete(t);
      this.end(t, new Error(`worker exited with code: ${code}`));
    });
  }

  /**
   * A thread that failed ('error', then 'exit') or exited: its batch fails, and a thread that had loaded
   * is replaced at once, so that the pool never finds fewer idle threads than it counts.
   */
  private end(t: Thread, err: Error): void {
    if (t.ended) return;
    t.ended = true;
    const i = this.idle.indexOf(t);
    if (i >= 0) this.idle.splice(i, 1);
    const job = t.job;
    t.job = null;
    job?.reject(new ThreadEnded(t.terminated ? 'it was terminated' : err.message, t.terminated));
    if (this.closing) return;
    if (t.loaded) this.spawn();
    else this.bootError ??= err;
  }

  /** Runs a batch on an idle thread, the one that ran last if it is idle (its caches are warm). */
  run(batch: Batch, transferList: TransferListItem[]): Running {
    const t = this.idle.pop();
    if (t === undefined) {
      const err = this.bootError ?? new Error('no idle worker thread: the pool sent more batches than it has threads');
      return { replies: Promise.reject(err), terminate: () => {} };
    }
    const replies = new Promise<Reply[]>((resolve, reject) => {
      t.job = { resolve, reject };
    });
    t.worker.ref();
    t.worker.postMessage(batch, transferList);
    return {
      replies,
      terminate: () => {
        if (t.job === null || t.terminated) return;
        t.terminated = true;
        void t.worker.terminate();
      },
    };
  }

  /** The live threads whose module has not loaded yet (a thread terminated then would take the process down: Pool.close). */
  get loading(): number {
    let n = 0;
    for (const t of this.live) if (!t.loaded) n++;
    return n;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.live].map((t) => t.worker.terminate()));
  }
}
