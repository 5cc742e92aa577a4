// A second core for one request. When the request computing in this thread may use another core
// (kernels/threads.ts coresForRequest: alone in the pool, or told so in-process), a long op hands part
// of its work to a helper thread of this thread's own (split-thread.ts) and computes the rest meanwhile.
// The helper sees shared memory only: the part's operands are copied into an arena of it, its results
// read back from there. It waits for parts on shared memory (spinning a while, then in Atomics.wait), so
// a hand-off costs no turn of an event loop; it takes its part's chunks one at a time, so that what it
// has not started when this thread is done, this thread computes; and it stops between blocks when the
// request is asked to stop.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { stopIfCancelled } from './cancel.js';
import { blasInfo, gemmBackend, holdBlasThreads } from './kernels/index.js';
import { coresForRequest } from './kernels/threads.js';
import type { Data, DType } from './tensor.js';

/**
 * Int32 slots of the control array shared with the helper. PICK: the last part decided, +seq when the
 * helper took it up, −seq when this side withdrew it first (the helper then never touches it); SEEN:
 * the last part the helper read, taken up or not; CLAIMS: who computes each chunk of the part.
 */
export const SLOT = { SEQ: 0, DONE: 1, STATUS: 2, STOP: 3, PICK: 4, SEEN: 5, CLAIMS: 6 } as const;
export const STATUS = { OK: 1, FAILED: 2, CANCELLED: 3 } as const;
/** A chunk's claim: not started, taken by the helper, or taken back by this side. */
export const CLAIM = { FREE: 0, HELPER: 1, HERE: 2 } as const;
/** At most this many chunks a part. */
export const MAX_CHUNKS = 16;

/** What the helper is sent with each part: the task's name, its arguments, and its arrays (views of the arena). */
export interface PartMessage {
  seq: number;
  task: string;
  args: unknown;
  arrays: Record<string, Data | null>;
  /** the gemm backend to compute with, as this thread's (tests switch it) */
  backend: { name: string; path: string | null };
  /** how long the helper waits, once it has taken the part up, before it starts it (tests of a held-up helper) */
  holdMs: number;
}

/** A task on the helper: it computes each chunk of the part it can `claim` (false: this side took it). */
export type Task = (args: never, arrays: PartMessage['arrays'], claim: (chunk: number) => boolean) => void;

/**
 * giveUpMs: how long a part may take beyond what this thread took for its own before the helper is
 * given up (its thread stopped, the part computed here): a stuck or dead helper must not hold the
 * request. holdMs: see PartMessage. (Tests change them.)
 */
export const SPLIT = { giveUpMs: 1000, holdMs: 0 };
/** A helper that has not read any of this many parts posted since is dead or stuck: it is replaced. */
const UNREAD_LIMIT = 16;
/** How long a join spins before it sleeps until the helper is done (sleeping leaves the core to V8's threads). */
const JOIN_SPIN_MS = 0.2;
/** An arena larger than this is let go after its part, not kept for the next. */
const RETAIN_BYTES = 64 * 2 ** 20;

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  /** this side of the channel: parts go out, the helper's error messages come back */
  port: MessagePort;
  seq: number;
}

let helper: Helper | null = null;
/** Cells of this thread's counts (shared with the event loop for /metrics when given): parts handed to a helper, helpers given up. */
export const SPLIT_STATS = { PARTS: 0, GIVEN_UP: 1, LENGTH: 2 } as const;
let stats: BigInt64Array = new BigInt64Array(SPLIT_STATS.LENGTH);
const count = (cell: number) => Atomics.add(stats, cell, 1n);

/** Counts into `shared` (SPLIT_STATS), which other threads' counts add to, from now on. */
export function countSplitsInto(shared: BigInt64Array): void {
  stats = shared;
}

export const splitCounts = (): { parts: number; givenUp: number } => ({
  parts: Number(Atomics.load(stats, SPLIT_STATS.PARTS)),
  givenUp: Number(Atomics.load(stats, SPLIT_STATS.GIVEN_UP)),
});
let ready: Promise<boolean> | null = null;
let arena: SharedArrayBuffer | null = null;

/** Under vitest the sources run as .ts; the helper still needs its compiled module (npm test builds it). */
function helperFile(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  return here.endsWith('.ts') ? path.resolve(dir, '../../dist/src/engine/split-thread.js') : path.resolve(dir, 'split-thread.js');
}

/**
 * Starts this thread's helper unless it runs; resolves true once it is ready for parts, false if it
 * could not start (it is then not tried again in this thread). Parts are only handed to a ready helper:
 * until then ops compute everything here. A helper that ends later (given up) is started again.
 */
export function startHelper(): Promise<boolean> {
  if (ready) return ready;
  const ctrl = new Int32Array(new SharedArrayBuffer((SLOT.CLAIMS + MAX_CHUNKS) * Int32Array.BYTES_PER_ELEMENT));
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    worker = new Worker(helperFile(), { workerData: { ctrl, port: port2 }, transferList: [port2] });
  } catch {
    return (ready = Promise.resolve(false));
  }
  worker.unref();
  const h: Helper = { worker, ctrl, port: port1, seq: 0 };
  let started = false;
  const mine: Promise<boolean> = new Promise<boolean>((resolve) => {
    // its one message: its kernels are loaded
    worker.once('message', () => {
      started = true;
      helper = h;
      resolve(true);
    });
    worker.once('exit', () => {
      if (helper === h) helper = null;
      // one that never got ready stays refused; one that did may be replaced
      if (ready === mine && started) ready = null;
      resolve(false);
    });
    worker.once('error', () => worker.terminate());
  });
  ready = mine;
  return mine;
}

/** Ends the helper's thread as a crash would, without telling this side (for tests); resolves once it has ended. */
export async function crashHelper(): Promise<void> {
  await helper?.worker.terminate();
}

function stopHelper(h: Helper): void {
  count(SPLIT_STATS.GIVEN_UP);
  helper = null;
  ready = null;
  // a stopped helper may still be writing into the arena: the next part gets a fresh one
  arena = null;
  void h.worker.terminate();
}

/**
 * A region of the arena: an operand copied in (Data), or a result of that dtype and length, zeroed
 * unless `written` (the part writes every element).
 */
export type Region = Data | null | readonly [DType, number] | readonly [DType, number, 'written'];

/**
 * A part running on the helper, in chunks that it claims one after the other: those it has not started
 * when this side is done with its own work, this side takes back (`take`), so a helper that starts late
 * or is held up holds up no more than the chunk it is computing.
 */
export interface Part {
  /** Claims chunk `i` for this side; false when the helper has it. */
  take(i: number): boolean;
  /**
   * Waits for the part; its regions (views of the arena, valid until the next part) or null when the
   * helper gave up or failed to finish, in which case the caller computes the chunks it did not take.
   */
  join(): Record<string, Data | null> | null;
  /** Stops the part (the caller failed or was asked to stop) and waits for the helper to let go. */
  abandon(): void;
}

/**
 * Hands `task` to the helper with `regions` laid out in the arena, or null when no second core is free
 * for this request or the helper is not ready (it is then started for later parts).
 */
export function startPart(task: string, args: unknown, regions: Record<string, Region>, chunks: number): Part | null {
  if (chunks > MAX_CHUNKS) throw new RangeError(`a part has at most ${MAX_CHUNKS} chunks, not ${chunks}`);
  if (coresForRequest() < 2) return null;
  let h = helper;
  // one that reads no parts (its thread gone, its exit not yet heard of) is replaced
  if (h && h.seq - Atomics.load(h.ctrl, SLOT.SEEN) >= UNREAD_LIMIT) {
    stopHelper(h);
    h = null;
  }
  if (!h) {
    void startHelper();
    return null;
  }
  const arrays = layOut(regions);
  const backend = gemmBackend().name;
  const seq = ++h.seq;
  const message: PartMessage = {
    seq, task, args, arrays, backend: { name: backend, path: backend === 'openblas' ? (blasInfo()?.path ?? null) : null }, holdMs: SPLIT.holdMs,
  };
  h.ctrl.fill(CLAIM.FREE, SLOT.CLAIMS, SLOT.CLAIMS + chunks);
  holdBlasThreads(true);
  h.port.postMessage(message);
  count(SPLIT_STATS.PARTS);
  Atomics.store(h.ctrl, SLOT.SEQ, seq);
  Atomics.notify(h.ctrl, SLOT.SEQ);
  const started = performance.now();
  let settled = false;
  const settle = () => {
    if (settled) return;
    settled = true;
    holdBlasThreads(false);
    if (arena && arena.byteLength > RETAIN_BYTES) arena = null;
  };
  /** Withdraws the part if the helper has not taken it up yet: it will then never touch it. */
  const withdraw = (): boolean => {
    const last = Atomics.load(h.ctrl, SLOT.PICK);
    return Math.abs(last) === seq - 1 && Atomics.compareExchange(h.ctrl, SLOT.PICK, last, -seq) === last;
  };
  /**
   * Waits until the helper is done with this part or `deadline` passes (false then): spinning a
   * little (the helper usually ends about when this side does), then asleep until it says so.
   */
  const waitDone = (deadline: number, onTurn: () => void): boolean => {
    const spinUntil = performance.now() + JOIN_SPIN_MS;
    for (let turn = 0; Atomics.load(h.ctrl, SLOT.DONE) !== seq; turn++) {
      if ((turn & 255) !== 0) continue;
      const now = performance.now();
      if (now > deadline) return false;
      onTurn();
      if (now > spinUntil) Atomics.wait(h.ctrl, SLOT.DONE, Atomics.load(h.ctrl, SLOT.DONE), 1);
    }
    return true;
  };
  const abandon = () => {
    if (settled) return;
    Atomics.store(h.ctrl, SLOT.STOP, seq);
    if (!withdraw() && !waitDone(performance.now() + SPLIT.giveUpMs, () => {})) stopHelper(h);
    settle();
  };
  return {
    abandon,
    take: (i) => Atomics.compareExchange(h.ctrl, SLOT.CLAIMS + i, CLAIM.FREE, CLAIM.HERE) === CLAIM.FREE,
    join() {
      // not taken up (its thread late to wake or held up): the caller has taken every chunk back
      if (withdraw()) {
        settle();
        return arrays;
      }
      const deadline = performance.now() + SPLIT.giveUpMs + (performance.now() - started);
      try {
        if (!waitDone(deadline, stopIfCancelled)) {
          stopHelper(h);
          settle();
          return null;
        }
      } catch (err) {
        abandon();
        throw err;
      }
      settle();
      const status = Atomics.load(h.ctrl, SLOT.STATUS);
      if (status === STATUS.OK) return arrays;
      if (status === STATUS.FAILED) {
        const why = receiveMessageOnPort(h.port)?.message as string | undefined;
        throw new Error(`the second core's part of ${task} failed: ${why ?? 'no reason given'}`);
      }
      return null;
    },
  };
}

/** Places the regions in the arena (grown when too small), 16-byte aligned: operands copied, results zeroed. */
function layOut(regions: Record<string, Region>): Record<string, Data | null> {
  const sizes = Object.values(regions).map((r) => (r === null ? 0 : Array.isArray(r) ? r[1] * (r[0] === 'float32' ? 4 : 8) : (r as Data).byteLength));
  const total = sizes.reduce((a, b) => a + Math.ceil(b / 16) * 16, 0);
  if (!arena || arena.byteLength < total) arena = new SharedArrayBuffer(Math.max(2 ** 20, 2 ** Math.ceil(Math.log2(total))));
  const out: Record<string, Data | null> = {};
  let at = 0;
  for (const [name, r] of Object.entries(regions)) {
    if (r === null) {
      out[name] = null;
      continue;
    }
    const [float32, n] = Array.isArray(r) ? [r[0] === 'float32', r[1] as number] : [r instanceof Float32Array, (r as Data).length];
    const view = float32 ? new Float32Array(arena, at, n) : new Float64Array(arena, at, n);
    if (!Array.isArray(r)) view.set(r as Data);
    else if (r.length === 2) view.fill(0);
    out[name] = view;
    at += Math.ceil(view.byteLength / 16) * 16;
  }
  return out;
}
