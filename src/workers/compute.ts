import os from 'node:os';
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import { donateBuffers } from '../engine/buffers.js';
import { initKernels, shareCores, type CoreShare } from '../engine/kernels/index.js';
import { forgetModelPlans } from '../engine/model.js';
import { dropPlans, keepPlans } from '../engine/plans.js';
import { countSplitsInto } from '../engine/split.js';
import { perform } from './dispatch.js';
import { CLAIM, CONTROL, copiedAcross, now, type Batch, type Envelope, type Reply } from './protocol.js';
import type { FromWorker } from './threads.js';
import { collectTransferables } from '../wire/ownership.js';

// A compute worker's side (worker.ts starts it): it runs the batches of tasks the pool posts
// (workers/pool.ts, threads.ts). The kernels are chosen once, when the thread starts, so a bad BLAS
// setting fails the pool's start-up probe rather than a request.

const data = workerData as
  | { blas?: string; nice?: number; cores?: Omit<CoreShare, 'cores'>; plans?: { entries: number; bytes: number; stats: BigInt64Array; deleted: string }; split?: BigInt64Array }
  | undefined;
// Below the event loop's priority when WORKER_NICE > 0: when both want a core, reading requests and
// writing answers for every client goes first, so long computations hold the others up less. Before the
// kernels load: OpenBLAS's threads, started then, take this thread's niceness. On Linux the niceness
// of "process 0" is the calling thread's own; elsewhere it would be the whole process's, so left alone.
if (data?.nice && process.platform === 'linux') os.setPriority(Math.min(19, os.getPriority() + data.nice));
const backend = initKernels(data?.blas ?? process.env.BLAS ?? 'auto');
// OpenBLAS threads, and whether a convolution takes a second core (engine/split.ts), follow how many
// requests the pool holds (kernels/threads.ts), unless the operator fixed OpenBLAS's threads
if (data?.cores && (backend !== 'openblas' || !process.env.OPENBLAS_NUM_THREADS)) {
  shareCores({ ...data.cores, cores: os.availableParallelism() });
}

if (data?.split) countSplitsInto(data.split);

if (data?.plans && data.plans.entries > 0) {
  keepPlans(data.plans.entries, data.plans.bytes, data.plans.stats);
  // a worker stopped or replaced takes its plans out of the sizes the pool reports
  process.on('exit', dropPlans);
  // the ids of models deleted (WorkerPool.forgetModel): between two batches, not on every task's path
  const deleted = new BroadcastChannel(data.plans.deleted);
  deleted.onmessage = (e) => forgetModelPlans((e as { data: string }).data);
  deleted.unref();
}

/** One task of a batch, unless the pool took it back first. */
function runOne({ task, control }: Envelope): Reply {
  // taken back by the pool before it began (stopped, or handed to another worker): skip it
  if (Atomics.compareExchange(control, CONTROL.CLAIM, CLAIM.FREE, CLAIM.STARTED) !== CLAIM.FREE) {
    const at = now();
    return { ok: false, error: { kind: 'cancelled' }, startedAt: at, finishedAt: at };
  }
  try {
    // the pool sets STOP when the task's time is up or its client has gone away
    return perform(task, () => Atomics.load(control, CONTROL.STOP) !== 0, backend, (result) => {
      // the job's memory is this thread's own (moved or copied here) and nothing reads it after this:
      // it serves the next job
      if (task.kind === 'gradients' || task.kind === 'forward') donateBuffers(task.job, result);
    });
  } finally {
    Atomics.store(control, CONTROL.DONE, 1);
  }
}

/** A batch's replies, in its order. */
export function run({ batch }: Batch): Reply[] {
  return batch.map(runOne);
}

const post = (m: FromWorker, transfer?: ArrayBuffer[]) => parentPort!.postMessage(m, transfer);

/** Sends a batch's replies, their results' tensors moved (transferred), or copied when small (SMALL_BYTES). */
function answer(replies: Reply[]): void {
  const buffers = collectTransferables(replies.map((r) => (r.ok ? r.result : null)));
  post({ replies }, copiedAcross(buffers) ? undefined : buffers);
}

/**
 * Runs each batch posted to this thread through `handle` (`run`; tests wrap it), then says the module
 * has loaded: from then on the pool may terminate this thread (Threads.close).
 */
export function serve(handle: (message: Batch) => Reply[]): void {
  parentPort!.on('message', (message: Batch) => {
    let replies: Reply[];
    try {
      replies = handle(message);
    } catch (err) {
      post({ error: err });
      return;
    }
    answer(replies);
  });
  post({ loaded: true });
}
