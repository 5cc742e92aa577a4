// How many threads an OpenBLAS product may use when pool workers share the machine.
//
// OpenBLAS's thread count is process-wide and its pool is shared by every worker thread. Two threaded
// products running at once serialize on a lock inside the library (and the waiting caller spins), and
// its threads keep spinning for a while after each threaded product; so while requests compete, each
// product runs single-threaded. But a request that is alone should not leave the idle workers' cores
// unused. The rule: with `inFlight` requests running or waiting in the pool, a product may use
// min(cores, workers) − inFlight + 1 threads (at least 1). With WORKERS=1 that is always 1 (one
// worker is given one core); with WORKERS=2 on 2 cores a lone request gets 2 threads, and as soon as
// a second request arrives (running or queued) every product gets 1. The event loop counts as one
// while it computes tiny tasks itself (workers/pool.ts inPlaceFlops). With PROCESSES > 1 the processes
// of a replica share the cores: `workers` is all of theirs, and the requests in flight in the others
// count too, as their primary last told (cluster.ts). And a count that just fell is not believed at
// once: the rule takes the most requests in flight over the last ~0.1 s (kept by the pool), and a
// process tells the others of a fall only once it has lasted as long. In a
// steady stream of concurrent requests one is often alone for a few ms; lent the idle cores then, its
// product would start OpenBLAS's threads, which spin for a while after it, on the cores the next
// request needs.

/** Shared by the pool and its workers (a SharedArrayBuffer of 4 Int32s). */
export interface CoreShare {
  /**
   * [0] requests running or waiting, kept by the pool; [1] a lock around changing the thread count;
   * [2] requests in flight in the replica's other processes; [3] the most of [0] + [2] lately
   */
  state: Int32Array;
  /** the replica's workers: this process's, or with PROCESSES > 1 every process's together */
  workers: number;
  cores: number;
}

const IN_FLIGHT = 0;
const LOCK = 1;
const ELSEWHERE = 2;
const LATELY = 3;

let share: CoreShare | null = null;

export function newCoreShareState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
}

/** Counts a request in (+1, when it is submitted) or out (−1, when its answer is back). */
export function countInFlight(state: Int32Array, delta: 1 | -1): void {
  Atomics.add(state, IN_FLIGHT, delta);
}

/** The requests this process counts in flight. */
export const inFlightHere = (state: Int32Array): number => Atomics.load(state, IN_FLIGHT);

/** Notes the requests in flight in the replica's other processes. */
export function setInFlightElsewhere(state: Int32Array, n: number): void {
  Atomics.store(state, ELSEWHERE, n);
}

/** The requests in flight here and elsewhere, and the most of them lately. */
export const inFlightNow = (state: Int32Array): number => Atomics.load(state, IN_FLIGHT) + Atomics.load(state, ELSEWHERE);
export const inFlightLately = (state: Int32Array): number => Atomics.load(state, LATELY);

/** Notes the most requests in flight lately (the pool raises it at once and lowers it late). */
export function setInFlightLately(state: Int32Array, n: number): void {
  Atomics.store(state, LATELY, n);
}

/** Starts applying the rule in this thread (null stops it: the count stays as it is). */
export function shareCores(s: CoreShare | null): void {
  share = s;
}

/** The thread count the rule gives now, or null when no rule is set. */
export function wantedThreads(): number | null {
  if (!share) return null;
  // the caller is computing, counted or not
  const inFlight = Math.max(1, inFlightNow(share.state), inFlightLately(share.state));
  return Math.max(1, Math.min(share.cores, share.workers) - inFlight + 1);
}

/** The thread count set in this thread (setBlasThreads), which applies when no rule is set. */
let own = 1;

export function noteOwnThreads(n: number): void {
  own = n;
}

/**
 * How many cores the request computing in this thread may use: the rule's count, else the count set
 * here (in-process use; 1 by default). Beyond one, long ops hand part of their work to a second
 * thread (engine/split.ts) while OpenBLAS products run on one thread each.
 */
export function coresForRequest(): number {
  return wantedThreads() ?? own;
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

/**
 * Products with an m × n output below this many elements run on one OpenBLAS thread: its threads
 * divide the output, and a sliver of one each costs more than it saves (a convolution's 6 × 25 weight
 * gradient summed over 10^4 columns takes longer on two threads than on one).
 */
export const SPLIT_MIN_OUTPUT = 1024;

/**
 * So do products of fewer multiply-adds than this (a few tenths of a millisecond on one core): waking
 * the library's other threads costs more than they save, and once woken they spin for a while,
 * taking CPU from the element loops that run between products (a LeNet-sized CNN's convolutions,
 * 5–10 million multiply-adds each, ran slower on two threads than on one).
 */
export const SPLIT_MIN_WORK = 2 ** 24;

/** Whether an m × n × k product is worth dividing among OpenBLAS's threads (else it runs on one). */
export const worthSplitting = (m: number, n: number, k: number): boolean => m * n >= SPLIT_MIN_OUTPUT && m * n * k >= SPLIT_MIN_WORK;

/**
 * Runs `product` on one OpenBLAS thread, then gives the count back: the rule's when one is set (as
 * before a product; never the count found, which another worker may have changed since), else the
 * count found.
 */
export function singleThreaded(get: () => number, set: (n: number) => void, product: () => void): void {
  const before = get();
  if (before === 1) return product();
  set(1);
  try {
    product();
  } finally {
    if (share) applyThreadRule(get, set);
    else set(before);
  }
}
