import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Limits } from '../../engine/api.js';
import type { AppConfig } from '../../config.js';
import type { Cancellation, TaskOutcome } from '../../workers/pool.js';
import type { Task } from '../../workers/protocol.js';
import { spareBuffers, sparesWanted } from '../../wire/ownership.js';

export const limitsOf = (config: AppConfig): Limits => ({ maxElements: config.maxElements, maxNodes: config.maxNodes, maxFlops: config.flopBudget });

/**
 * Cancels when the client goes away before its answer is written, so its computation stops too.
 * NOTE: a class, not an object literal with a getter: V8 gives such a literal an accessor pair of its
 * own in the old generation, whose getter closure then keeps the whole request (its response, request,
 * headers, socket buffers) alive through young-generation collections until the next full one. Every
 * request was promoted that way, and each scavenge copied them.
 */
class ClientGone implements Cancellation {
  constructor(private readonly res: FastifyReply['raw']) {}

  /** gone already (while its body was parsed and decoded): its 'close' has been and will not come again */
  get cancelled(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }

  onCancel(stop: () => void): () => void {
    const res = this.res;
    const onClose = () => {
      if (!res.writableFinished) stop();
    };
    res.once('close', onClose);
    return () => res.removeListener('close', onClose);
  }
}

export const clientGone = (reply: FastifyReply): Cancellation => new ClientGone(reply.raw);

/**
 * Runs `task` in the pool for the request of `reply`. The result's tensors arrived from the worker on
 * buffers of their own that only the answer reads: once it is written, they serve later bodies
 * (wire/ownership.ts spareBuffers).
 */
export async function runTask<R>(app: FastifyInstance, reply: FastifyReply, task: Task): Promise<TaskOutcome<R>> {
  const outcome = await app.pool.run<R>(task, clientGone(reply));
  if (sparesWanted()) reply.raw.once('finish', () => spareBuffers(outcome.result));
  return outcome;
}

/** Puts the timing in the Server-Timing header and returns it for the body. */
export function finishTiming(reply: FastifyReply, t: Omit<Timing, 'totalMs'>): Timing {
  const timing = { queueMs: round(t.queueMs), forwardMs: round(t.forwardMs), backwardMs: round(t.backwardMs), totalMs: round(reply.elapsedTime) };
  reply.header('server-timing', serverTiming(timing));
  return timing;
}

/** For routes without a forward/backward split (step, gradcheck, explain, train). */
export function finishComputeTiming(reply: FastifyReply, queueMs: number, computeMs: number): ComputeTiming {
  const timing = { queueMs: round(queueMs), computeMs: round(computeMs), totalMs: round(reply.elapsedTime) };
  if (!reply.sent) reply.header('server-timing', computeServerTiming(timing)); // a stream has sent its headers
  return timing;
}

export interface Timing {
  queueMs: number;
  forwardMs: number;
  backwardMs: number;
  totalMs: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The Server-Timing header (W3C) with the body's `timing`, rounded already. */
function serverTiming(t: Timing): string {
  return `queue;dur=${t.queueMs}, forward;dur=${t.forwardMs}, backward;dur=${t.backwardMs}, total;dur=${t.totalMs}`;
}

export interface ComputeTiming {
  queueMs: number;
  computeMs: number;
  totalMs: number;
}

function computeServerTiming(t: ComputeTiming): string {
  return `queue;dur=${t.queueMs}, compute;dur=${t.computeMs}, total;dur=${t.totalMs}`;
}
