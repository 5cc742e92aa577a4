import os from 'node:os';
import { Piscina } from 'piscina';
import { ZodError } from 'zod';
import { donateBuffers } from '../engine/buffers.js';
import * as engine from '../engine/index.js';
import { LimitError, ModelNotSent, SpecError, type Path } from '../engine/errors.js';
import { initKernels, shareCores, type CoreShare } from '../engine/kernels/index.js';
import { OpValueError } from '../engine/op.js';
import { dropPlans, keepPlans } from '../engine/plans.js';
import { countSplitsInto } from '../engine/split.js';
import { ShapeError } from '../engine/tensor.js';
import { CLAIM, CONTROL, now, type Batch, type Envelope, type Reply, type Task, type TaskFailure } from './protocol.js';
import { collectTransferables } from '../wire/ownership.js';

// A compute worker: piscina calls the default export once per batch of tasks (workers/pool.ts). The
// kernels are chosen once, when the thread starts, so a bad BLAS setting fails the pool's start-up
// probe rather than a request.

const data = Piscina.workerData as
  | { blas?: string; nice?: number; cores?: Omit<CoreShare, 'cores'>; plans?: { entries: number; bytes: number; stats: BigInt64Array }; split?: BigInt64Array }
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
}

// Synchronous throughout, so that cancellable() covers the whole computation.
function dispatch(task: Task): unknown {
  switch (task.kind) {
    case 'gradients':
      return engine.gradients(task.job, task.limits);
    case 'forward':
      return engine.forward(task.job, task.limits);
    case 'gradcheck':
      return engine.gradcheck(task.job, task.config, task.limits);
    case 'explain':
      return engine.explain(task.job, task.limits);
    case 'step':
      return engine.step(task.job);
    case 'train': {
      const port = task.progress;
      try {
        return engine.train(task.job, task.config, task.limits, (s) => port?.postMessage(s));
      } finally {
        port?.close();
      }
    }
    case 'probe':
      return { backend };
  }
}

/** Errors caused by the request's content, as data; anything else is our fault and is rethrown. */
function asFailure(err: unknown): TaskFailure | null {
  if (err instanceof engine.Cancelled) return { kind: 'cancelled' };
  if (err instanceof ModelNotSent) return { kind: 'model-not-sent' };
  if (err instanceof SpecError) return { kind: 'spec', issues: err.issues };
  if (err instanceof LimitError) return { kind: 'limit', path: err.path, message: err.reason };
  if (err instanceof ShapeError || err instanceof OpValueError) return { kind: 'spec', issues: [{ path: [], message: err.message }] };
  if (err instanceof ZodError) {
    return { kind: 'spec', issues: err.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as Path, message: i.message })) };
  }
  // NOTE: the engine checks sizes before allocating; this is the last guard against a request that
  // still asks for more memory than the thread has.
  if (err instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer/i.test(err.message)) {
    return { kind: 'limit', path: [], message: `not enough memory: ${err.message}` };
  }
  return null;
}

/** One task of a batch; its failures, ours included, become its reply, so they fail it alone. */
function runOne({ task, control }: Envelope): Reply {
  const startedAt = now();
  // taken back by the pool before it began (stopped, or handed to another worker): skip it
  if (Atomics.compareExchange(control, CONTROL.CLAIM, CLAIM.FREE, CLAIM.STARTED) !== CLAIM.FREE) {
    return { ok: false, error: { kind: 'cancelled' }, startedAt, finishedAt: startedAt };
  }
  try {
    // the pool sets STOP when the task's time is up or its client has gone away
    const result = engine.cancellable(() => Atomics.load(control, CONTROL.STOP) !== 0, () => dispatch(task));
    // the job's memory is this thread's own (moved or copied here) and nothing reads it after this:
    // it serves the next job
    if (task.kind === 'gradients' || task.kind === 'forward') donateBuffers(task.job, result);
    return { ok: true, result, startedAt, finishedAt: now() };
  } catch (err) {
    const error: TaskFailure = asFailure(err) ?? {
      kind: 'internal',
      message: err instanceof Error ? err.message : String(err),
      ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
    };
    return { ok: false, error, startedAt, finishedAt: now() };
  } finally {
    Atomics.store(control, CONTROL.DONE, 1);
  }
}

export default function run({ batch }: Batch): unknown {
  const replies = batch.map(runOne);
  // The results' tensors go back transferred: move() marks an object that names its own transfer
  // list under transferableSymbol and the value to send under valueSymbol.
  const results = replies.map((r) => (r.ok ? r.result : null));
  const movable = { [Piscina.transferableSymbol]: collectTransferables(results), [Piscina.valueSymbol]: replies };
  return Piscina.move(movable as never);
}
