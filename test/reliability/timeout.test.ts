import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/workers/pool.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';
import { listen, NO_BUDGET, trainBody, waitFor } from './helpers.js';

// TIMEOUT_MS: work over the limit gets a 504 within about twice the limit. A computation is asked to
// stop between two nodes and its worker goes on; one stuck inside a single op is terminated after a
// grace period and its worker replaced. Afterwards the pool runs WORKERS computations at once again.

const LIMIT = 1000;
const endless = trainBody(1_000_000);

/** One worker running the test worker (fixtures/crash-worker.ts), which spins forever, never looking
 * at the stop flag, on a graph whose first node is "stuck_op": one op that does not return. */
async function stuckOpApp(workers = 1) {
  const filename = path.resolve(import.meta.dirname, '../../dist/test/reliability/fixtures/crash-worker.js');
  const pool = new WorkerPool({ workers, queueLimit: 8, timeoutMs: LIMIT, blas: 'auto', filename });
  return startApp({ workers, timeoutMs: LIMIT }, { pool });
}

const stuckOp = {
  ...twoWeight,
  model: {
    ...twoWeight.model,
    nodes: [{ id: 'stuck_op', op: 'mul', inputs: ['w1', 'x'] }, { id: 'y', op: 'mul', inputs: ['w2', 'stuck_op'] }, { id: 'L', op: 'mse_loss', inputs: ['y', 't'] }],
  },
};

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

describe('TIMEOUT_MS', () => {
  it('504 within 2× the limit for every worker at once; then both workers compute side by side', async () => {
    const app = await startApp({ workers: 2, queueLimit: 4, timeoutMs: LIMIT, flopBudget: NO_BUDGET });
    try {
      const [a, b] = await Promise.all([timed(post(app, '/v1/train', endless)), timed(post(app, '/v1/train', endless))]);
      for (const { value, ms } of [a, b]) {
        expectProblem(value, 504, 'TIMEOUT');
        expect(ms).toBeGreaterThanOrEqual(LIMIT - 50);
        expect(ms).toBeLessThan(2 * LIMIT);
      }
      expect(app.pool.workerStarts).toBe(2); // both runs stopped between two nodes: no worker replaced

      // Full capacity: two computations run at the same moment (one worker would leave one queued).
      // Short enough to stay far under LIMIT on fresh workers of a loaded machine (600 steps did not).
      const slow = trainBody(250);
      const both = [post(app, '/v1/train', slow), post(app, '/v1/train', slow)];
      let sawTwo = false;
      await waitFor(() => (sawTwo ||= app.pool.busyWorkers === 2 && app.pool.queueDepth === 0), 5_000, 'two busy workers');
      for (const r of await Promise.all(both)) {
        expect(r.status).toBe(200);
        expect(r.body.losses).toHaveLength(250);
      }
      expect(sawTwo).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('counts time in the queue: a request stuck behind a long one gets its 504 on time too', async () => {
    // The one ahead is stuck inside one op, so its worker is busy until LIMIT + the grace period: the
    // queued request's own LIMIT runs out while it waits, and it is dropped from the queue then.
    const app = await stuckOpApp();
    try {
      const first = timed(post(app, '/v1/gradients', stuckOp));
      await waitFor(() => app.pool.busyWorkers === 1, 5_000, 'the first computation');
      const queued = await timed(post(app, '/v1/gradients', twoWeight));
      expectProblem(queued.value, 504, 'TIMEOUT');
      expect(queued.ms).toBeGreaterThanOrEqual(LIMIT - 50);
      expect(queued.ms).toBeLessThan(2 * LIMIT);
      expectProblem((await first).value, 504, 'TIMEOUT');
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  });

  it('a streamed training run that outlives the limit ends with an error line, within 2× the limit', async () => {
    const app = await startApp({ workers: 1, timeoutMs: LIMIT, flopBudget: NO_BUDGET });
    try {
      const base = await listen(app);
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/train`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(endless),
      });
      expect(res.status).toBe(200);
      const lines = (await res.text()).trimEnd().split('\n');
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(2 * LIMIT);
      expect(lines.length).toBeGreaterThan(2);
      expect(JSON.parse(lines[0]!).step).toBe(1);
      const last = JSON.parse(lines[lines.length - 1]!);
      expect(last.error).toMatchObject({ status: 504, code: 'TIMEOUT' });
      // and the worker, stopped between two nodes, answers the next request
      expect((await post(app, '/v1/gradients', twoWeight)).status).toBe(200);
      expect(app.pool.workerStarts).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('a computation stuck inside one op: 504, its thread terminated after the grace period and replaced', async () => {
    const app = await stuckOpApp();
    try {
      const { value, ms } = await timed(post(app, '/v1/gradients', stuckOp));
      expectProblem(value, 504, 'TIMEOUT');
      expect(ms).toBeGreaterThanOrEqual(LIMIT - 50);
      expect(ms).toBeLessThan(2 * LIMIT);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
      expect(app.pool.workerStarts).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('small requests sent in one batch with a stuck one are taken back and answered by the other worker', async () => {
    const app = await stuckOpApp(2);
    try {
      const pool = app.pool as WorkerPool;
      const stuck = post(app, '/v1/gradients', stuckOp);
      let stuckAnswered = false;
      void stuck.then(() => (stuckAnswered = true));
      // arriving with it, they may share its message; the ones it holds back are withdrawn after
      // STEAL_AFTER_MS and computed elsewhere, long before its own time limit
      const others = await Promise.all(Array.from({ length: 6 }, () => post(app, '/v1/gradients', twoWeight)));
      expect(stuckAnswered).toBe(false);
      for (const r of others) expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
      expectProblem(await stuck, 504, 'TIMEOUT');
      await waitFor(() => pool.workerStarts === 3, 5_000, 'the stuck worker replaced');
    } finally {
      await app.close();
    }
  });
});
