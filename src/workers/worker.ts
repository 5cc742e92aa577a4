import os from 'node:os';
import { Piscina } from 'piscina';
import { ZodError } from 'zod';
import { donateBuffers } from '../engine/buffers.js';
import * as engine from '../engine/index.js';
import { LimitError, SpecError, type Path } from '../engine/errors.js';
import { initKernels, shareCores, type CoreShare } from '../engine/kernels/index.js';
import { OpValueError } from '../engine/op.js';
import { ShapeError } from '../engine/tensor.js';
import { collectTransferables, now, type Envelope, type Reply, type Task, type TaskFailure } from './protocol.js';

// A compute worker: piscina calls the default export once per task. The kernels are chosen once,
// when the thread starts, so a bad BLAS setting fails the pool's start-up probe rather than a request.

const data = Piscina.workerData as { blas?: string; cores?: Omit<CoreShare, 'cores'> } | undefined;
const backend = initKernels(data?.blas ?? process.env.BLAS ?? 'auto');
// OpenBLAS threads follow how many requests the pool holds (kernels/threads.ts) unless the operator fixed them
if (data?.cores && backend === 'openblas' && !process.env.OPENBLAS_NUM_THREADS) {
  shareCores({ ...data.cores, cores: os.availableParallelism() });
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
  if (err instanceof SpecError) return { kind: 'spec', issues: err.issues };
  if (err instanceof LimitError) return { kind: 'limit', path: err.path, message: err.message };
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

export default function run({ task, control }: Envelope): unknown {
  const startedAt = now();
  Atomics.store(control, 1, 1);
  let reply: Reply;
  try {
    // the pool sets control[0] when the task's time is up or its client has gone away
    const result = engine.cancellable(() => Atomics.load(control, 0) !== 0, () => dispatch(task));
    // the job came transferred and nothing reads it after this: its memory serves the next job
    if (task.kind === 'gradients' || task.kind === 'forward') donateBuffers(task.job, result);
    reply = { ok: true, result, startedAt, finishedAt: now() };
  } catch (err) {
    const error = asFailure(err);
    if (!error) throw err;
    return { ok: false, error, startedAt, finishedAt: now() } satisfies Reply;
  }
  // The result's tensors go back transferred, like the job's came in: move() marks an object that
  // names its own transfer list under transferableSymbol and the value to send under valueSymbol.
  const movable = { [Piscina.transferableSymbol]: collectTransferables(reply.result), [Piscina.valueSymbol]: reply };
  return Piscina.move(movable as never);
}
