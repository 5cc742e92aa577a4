import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../../src/workers/pool.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';
import { trainBody, waitFor } from './helpers.js';

// A worker that dies (exits, or runs over its resourceLimits heap) fails only its own request, with a
// problem+json 502 WORKER_CRASHED; the other requests in flight succeed; the pool replaces it. The
// deaths come from a test-only worker module (fixtures/crash-worker.ts, compiled by `npm test`).

const CRASH_WORKER = path.resolve(import.meta.dirname, '../../dist/test/reliability/fixtures/crash-worker.js');

async function crashApp(workers: number): Promise<FastifyInstance> {
  const pool = new WorkerPool({
    workers,
    queueLimit: 8,
    timeoutMs: 20_000,
    blas: 'auto',
    filename: CRASH_WORKER,
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
  });
  return startApp({ workers, timeoutMs: 20_000 }, { pool });
}

const dying = (how: 'die_exit' | 'die_oom' | 'die_later') => ({
  ...twoWeight,
  model: { ...twoWeight.model, nodes: [{ id: how, op: 'mul', inputs: ['w1', 'x'] }, { id: 'y', op: 'mul', inputs: ['w2', how] }, { id: 'L', op: 'mse_loss', inputs: ['y', 't'] }] },
});

describe('a worker that dies', () => {
  for (const how of ['die_exit', 'die_oom'] as const) {
    it(`(${how === 'die_exit' ? 'process.exit' : 'over its heap limit'}) fails only its own request with a 502; the pool replaces it`, async () => {
      const app = await crashApp(2);
      try {
        // another request in flight on the other worker, one queued behind them
        const running = post(app, '/v1/train', trainBody(300));
        await waitFor(() => app.pool.busyWorkers === 1, 10_000, 'the first computation');
        const [dead, queued, other] = await Promise.all([
          post(app, '/v1/gradients', dying(how)),
          post(app, '/v1/gradients', twoWeight),
          running,
        ]);

        expectProblem(dead, 502, 'WORKER_CRASHED');
        expect(dead.body.type).toBe('urn:gradserve:problem:worker-crashed');
        expect(dead.body.detail).toMatch(how === 'die_exit' ? /exited with code: 7/ : /memory/i);
        expect(other.status).toBe(200);
        expect(other.body.losses).toHaveLength(300);
        expect(queued.status).toBe(200);
        expect(queued.body.gradients.w1).toBe(15);

        // back to two workers: two computations at the same moment
        const both = [post(app, '/v1/train', trainBody(400)), post(app, '/v1/train', trainBody(400))];
        let sawTwo = false;
        await waitFor(() => (sawTwo ||= app.pool.busyWorkers === 2 && app.pool.queueDepth === 0), 10_000, 'two busy workers');
        for (const r of await Promise.all(both)) expect(r.status).toBe(200);
        expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      } finally {
        await app.close();
      }
    });
  }

  it('with one worker: the requests around the dying one in its batch are computed by its replacement', async () => {
    const app = await crashApp(1);
    try {
      const pool = app.pool as WorkerPool;
      const before = { sent: pool.batchesSent, starts: pool.workerStarts };
      // arriving together, the four small requests leave in one message to the one worker: the first
      // is computed before the thread dies (its answer lost with it), the last two never start
      const [first, dead, next, last] = await Promise.all([
        post(app, '/v1/gradients', twoWeight),
        post(app, '/v1/gradients', dying('die_exit')),
        post(app, '/v1/gradients', twoWeight),
        post(app, '/v1/gradients', twoWeight),
      ]);
      expectProblem(dead, 502, 'WORKER_CRASHED');
      for (const r of [first, next, last]) expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
      // the batch that died, then the three others sent again together
      expect(pool.batchesSent - before.sent).toBe(2);
      expect(pool.workerStarts - before.starts).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('between tasks (an error thrown from a timer): logged, replaced, the process unharmed', async () => {
    // an idle worker turns its event loop (the pool's atomics: 'async'), so the timer fires between tasks
    const app = await crashApp(1);
    const logged: unknown[] = [];
    const log = app.pool.onWorkerError!;
    app.pool.onWorkerError = (err) => {
      logged.push(err);
      log(err);
    };
    try {
      const r = await post(app, '/v1/gradients', dying('die_later'));
      expect(r.status).toBe(200);
      await waitFor(() => logged.length === 1, 5_000, 'the worker error');
      expect(String(logged[0])).toMatch(/thrown from a timer/);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  });
});
