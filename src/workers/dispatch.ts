import { ZodError } from 'zod';
import * as engine from '../engine/index.js';
import { LimitError, ModelNotSent, SpecError, type Path } from '../engine/errors.js';
import { OpValueError } from '../engine/op.js';
import { ShapeError } from '../engine/tensor.js';
import { now, type Reply, type Task, type TaskFailure } from './protocol.js';

// A task computed into its Reply: by a worker thread (worker.ts), or on the event loop for the tiny
// tasks the pool keeps there (pool.ts). Synchronous throughout, so that cancellable() covers the
// whole computation.

function dispatch(task: Task, backend: string): unknown {
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

/** Errors caused by the request's content, as data; anything else is our fault: null. */
function asFailure(err: unknown): TaskFailure | null {
  if (err instanceof engine.Cancelled) return { kind: 'cancelled' };
  if (err instanceof ModelNotSent) return { kind: 'model-not-sent' };
  if (err instanceof SpecError) return { kind: 'spec', issues: err.issues };
  if (err instanceof LimitError) return { kind: 'limit', path: err.path, message: err.reason, ...(err.bound ? { bound: err.bound } : {}) };
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

/**
 * Computes `task`, stopping between nodes once `stopped()` says so; its failures, ours included,
 * become its reply, so that they fail it alone. `done` sees a result before it is replied.
 */
export function perform(task: Task, stopped: () => boolean, backend: string, done?: (result: unknown) => void): Reply {
  const startedAt = now();
  try {
    const result = engine.cancellable(stopped, () => dispatch(task, backend));
    done?.(result);
    return { ok: true, result, startedAt, finishedAt: now() };
  } catch (err) {
    const error: TaskFailure = asFailure(err) ?? {
      kind: 'internal',
      message: err instanceof Error ? err.message : String(err),
      ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
    };
    return { ok: false, error, startedAt, finishedAt: now() };
  }
}
