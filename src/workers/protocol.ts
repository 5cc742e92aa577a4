import type { MessagePort } from 'node:worker_threads';
import type {
  GradcheckConfig,
  GradientsJob,
  Limits,
  ModelJob,
  StepJob,
  TrainConfig,
} from '../engine/api.js';
import type { Bound, Path } from '../engine/errors.js';

// The messages between the event loop and a compute worker. Tensors travel as typed arrays whose
// buffers are *transferred* (moved, not copied); everything else is small and structured-cloned.

export type Task =
  | { kind: 'gradients'; job: GradientsJob; limits: Limits }
  | { kind: 'forward'; job: ModelJob; limits: Limits }
  | { kind: 'gradcheck'; job: ModelJob; config: GradcheckConfig; limits: Limits }
  | { kind: 'explain'; job: ModelJob; limits: Limits }
  | { kind: 'step'; job: StepJob }
  /** `progress` receives one TrainStep per optimizer step while the task runs */
  | { kind: 'train'; job: GradientsJob; config: TrainConfig; limits: Limits; progress?: MessagePort }
  /** answers the kernel backend the worker selected; used for readiness */
  | { kind: 'probe' };

export type TaskKind = Task['kind'];

export interface Envelope {
  task: Task;
  /**
   * three Int32s in shared memory (indices in CONTROL): the pool sets STOP to ask the computation to
   * stop (engine/cancel.ts); CLAIM goes from FREE to STARTED when the worker starts the task, or to
   * WITHDRAWN when the pool takes it back first (compare-and-swap, so exactly one of them wins); the
   * worker sets DONE when its reply is ready
   */
  control: Int32Array;
  /** epoch milliseconds (performance.timeOrigin + now), comparable across threads */
  submittedAt: number;
}

/**
 * Tensors of at most this many bytes in all, a task's or a batch's results, are copied across (structured
 * clone), larger ones moved: below it, detaching buffers here and adopting them there costs more than
 * the copy (workers/pool.ts, compute.ts).
 */
const SMALL_BYTES = 64 * 1024;

/** Whether these buffers are small enough to be copied across rather than moved (SMALL_BYTES). */
export function copiedAcross(buffers: readonly ArrayBuffer[]): boolean {
  let bytes = 0;
  for (const b of buffers) bytes += b.byteLength;
  return bytes <= SMALL_BYTES;
}

export const CONTROL = { STOP: 0, CLAIM: 1, DONE: 2, LENGTH: 3 } as const;
export const CLAIM = { FREE: 0, STARTED: 1, WITHDRAWN: 2 } as const;

/** One message to a worker: the tasks it runs one after another, answered by their Replies in order. */
export interface Batch {
  batch: Envelope[];
}

/** Client errors cross the boundary as data: structured clone keeps no Error subclass or fields. */
export type TaskFailure =
  | { kind: 'spec'; issues: { path: Path; message: string }[] }
  | { kind: 'limit'; path: Path; message: string; bound?: Bound }
  /** the job left its model's spec out and this worker holds no plan for it: the pool sends it again whole */
  | { kind: 'model-not-sent' }
  /** stopped on request: its time is up or its client went away */
  | { kind: 'cancelled' }
  /** a fault of ours (not of the request): the pool fails this task alone with it */
  | { kind: 'internal'; message: string; stack?: string };

export type Reply =
  | { ok: true; result: unknown; startedAt: number; finishedAt: number }
  | { ok: false; error: TaskFailure; startedAt: number; finishedAt: number };

export const now = (): number => performance.timeOrigin + performance.now();
