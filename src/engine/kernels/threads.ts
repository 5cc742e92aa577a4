// How many threads an OpenBLAS product may use when pool workers share the machine.
//
// OpenBLAS's thread count is process-wide and its pool is shared by every worker thread. Two threaded
// products running at once serialize on a lock inside the library (and the waiting caller spins), so
// when all workers are busy each must run single-threaded. But a request that is alone should not
// leave the idle workers' cores unused. The rule: a worker's product may use its own core plus those
// of the workers that are idle right now, i.e. min(cores, workers) − busy + 1 threads (at least 1).
// With WORKERS=1 that is always 1 (one worker is given one core); with WORKERS=2 on 2 cores a lone
// request gets 2 and two concurrent requests get 1 each.

/** Shared by all workers of a pool (a SharedArrayBuffer of 2 Int32s). */
export interface CoreShare {
  /** [0] workers computing now, [1] a lock around changing the thread count */
  state: Int32Array;
  workers: number;
  cores: number;
}

const BUSY = 0;
const LOCK = 1;

let share: CoreShare | null = null;

export function newCoreShareState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** Starts applying the rule in this thread (null stops it: the count stays as it is). */
export function shareCores(s: CoreShare | null): void {
  share = s;
}

/** Brackets one task of this worker: it counts as busy while `fn` runs. */
export async function asBusyWorker<T>(fn: () => Promise<T> | T): Promise<T> {
  if (!share) return fn();
  const { state } = share;
  Atomics.add(state, BUSY, 1);
  try {
    return await fn();
  } finally {
    Atomics.sub(state, BUSY, 1);
  }
}

/** The thread count the rule gives now, or null when no rule is set. */
export function wantedThreads(): number | null {
  if (!share) return null;
  // the caller is computing, counted or not (a product outside asBusyWorker)
  const busy = Math.max(1, Atomics.load(share.state, BUSY));
  return Math.max(1, Math.min(share.cores, share.workers) - busy + 1);
}

/**
 * Called before each OpenBLAS product: sets the process-wide count when the rule now says otherwise.
 * The lock makes deciding and setting one step, so two workers deciding at once cannot leave the
 * library at 2 threads with both of them busy.
 */
export function applyThreadRule(get: () => number, set: (n: number) => void): void {
  const want = wantedThreads();
  if (want === null || get() === want) return;
  const { state } = share!;
  while (Atomics.compareExchange(state, LOCK, 0, 1) !== 0) {
    // held for one FFI call by another worker: microseconds
  }
  try {
    const now = wantedThreads()!;
    if (get() !== now) set(now);
  } finally {
    Atomics.store(state, LOCK, 0);
  }
}
