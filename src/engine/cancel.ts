// Cooperative cancellation. When a task's time is up or its client has gone away, the worker's
// computation is asked to stop; the passes check between nodes, so it ends within one op, and the
// thread lives on. (Terminating the thread, the only other way to stop it, costs a new thread and its
// start-up.)

/** Thrown from the computation that was asked to stop. */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

let stopRequested: (() => boolean) | null = null;

/** Runs `fn` (synchronous) so that the passes inside it throw Cancelled once `stop()` is true. */
export function cancellable<T>(stop: () => boolean, fn: () => T): T {
  const outer = stopRequested;
  stopRequested = stop;
  try {
    return fn();
  } finally {
    stopRequested = outer;
  }
}

/** Whether the computation running now can be asked to stop (long kernels then look between blocks). */
export function cancelWatched(): boolean {
  return stopRequested !== null;
}

/** Called between nodes by the forward and backward passes, and between blocks of long kernels. */
export function stopIfCancelled(): void {
  if (stopRequested !== null && stopRequested()) throw new Cancelled('the computation was cancelled');
}
