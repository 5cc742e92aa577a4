import { describe, expect, it } from 'vitest';
import { LARGE, mlpBody } from '../bench/common.js';
import type { FastifyReply } from 'fastify';
import { clientGone } from '../../src/routes/shared/compute.js';
import type { StopStage } from '../../src/workers/pool.js';
import { post, startApp, twoWeight } from '../routes/helpers.js';
import { hangUpAfter } from './hang-up.js';
import { convBody, listen, NO_BUDGET, secondCoreParts, waitFor } from './helpers.js';

// A client that hangs up costs almost nothing: its request stops wherever it is (while its body
// arrives, before it is queued, in the queue, between nodes, between the row blocks of a long product),
// its worker is free at once without being terminated, and /metrics counts where each one stopped.

/** `gradserve_stopped_tasks_total` by "stage reason" */
async function stoppedCounts(app: Awaited<ReturnType<typeof startApp>>): Promise<Record<string, number>> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^gradserve_stopped_tasks_total\{stage="(\w+)",reason="(\w+)"\} (\d+)/gm)) out[`${m[1]} ${m[2]}`] = Number(m[3]);
  return out;
}

describe('hang-ups', () => {
  it('a client gone before its task is handed over (its close event already past) is not queued: 499, counted at decode', async () => {
    const raw = { destroyed: true, writableFinished: false, once() {}, removeListener() {} };
    expect(clientGone({ raw } as unknown as FastifyReply).cancelled).toBe(true);
    expect(clientGone({ raw: { ...raw, destroyed: false } } as unknown as FastifyReply).cancelled).toBe(false);
    // the getter is its class's, not each object's own (an own getter kept every request alive until a full collection)
    expect(Object.getOwnPropertyDescriptor(clientGone({ raw } as unknown as FastifyReply), 'cancelled')).toBeUndefined();
    const app = await startApp({ workers: 1 });
    try {
      const stops: StopStage[] = [];
      const counted = app.pool.onTaskStopped!;
      app.pool.onTaskStopped = (stage, why) => (stops.push(stage), counted(stage, why));
      const gone = { cancelled: true, onCancel: () => () => {} };
      await expect(app.pool.run({ kind: 'probe' }, gone)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      expect(stops).toEqual(['decode']);
      expect(await stoppedCounts(app)).toEqual({ 'decode client': 1 });
    } finally {
      await app.close();
    }
  });

  it('heavy requests whose clients leave after 5–155 ms stop early, none restarting a worker, and are counted by stage', async () => {
    const app = await startApp({ workers: 1 });
    try {
      const base = await listen(app);
      // the bench's large MLP request (~0.7 MB of base64), as 30 training steps: it cannot be over
      // before its client leaves, however fast the host
      const body = Buffer.from(JSON.stringify({ ...JSON.parse(mlpBody(LARGE, 'base64')), optimizer: { type: 'sgd', lr: 0.01 }, steps: 30 }));
      const n = 20;
      // a connection closed before the server read it leaves nothing to stop: count the requests it saw
      let seen = 0;
      app.server.on('request', (req: { url?: string }) => req.url === '/v1/train' && seen++);
      // from while the body arrives to well into the computation
      for (let i = 0; i < n; i++) await hangUpAfter(`${base}/v1/train`, body, 5 + (i % 4) * 50);
      // every one was stopped somewhere; none was answered
      await waitFor(() => app.pool.busyWorkers === 0 && app.pool.queueDepth === 0, 10_000, 'the pool to be idle');
      // each was stopped somewhere (none can have been answered: the check says so)
      const answered = async () => {
        const m = /http_requests_total\{route="\/v1\/train",method="POST",status="200"\} (\d+)/.exec((await app.inject({ method: 'GET', url: '/metrics' })).body);
        return m ? Number(m[1]) : 0;
      };
      let counts: Record<string, number> = {};
      let stopped = 0;
      let ok = 0;
      const end = Date.now() + 5000;
      do {
        counts = await stoppedCounts(app);
        stopped = Object.values(counts).reduce((a, b) => a + b, 0);
        ok = await answered();
        if (stopped + ok >= seen) break;
        await new Promise((r) => setTimeout(r, 20));
      } while (Date.now() < end);
      console.log(`stopped by stage, of ${seen} requests seen (${ok} answered first):`, counts);
      expect(seen).toBeGreaterThanOrEqual(n / 2);
      expect(stopped + ok).toBe(seen);
      expect(ok).toBe(0);
      expect(Object.keys(counts).every((k) => k.endsWith(' client') && !k.startsWith('terminated'))).toBe(true);
      expect(app.pool.workerStarts).toBe(1);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('a time limit reached inside one long product stops it between two row blocks: 504, the worker kept', async () => {
    const limit = 300;
    const app = await startApp({ workers: 1, timeoutMs: limit, flopBudget: NO_BUDGET, maxElements: 40_000_000 });
    try {
      // one product of 4000³ multiply-adds (seconds of compute on any host) of a matrix made from two vectors
      // by broadcasting: a body of a few kilobytes, nothing initialized
      const product = {
        model: {
          type: 'graph',
          inputs: ['x', 'y'],
          nodes: [{ id: 'a', op: 'mul', inputs: ['x', 'y'] }, { id: 'c', op: 'matmul', inputs: ['a', 'a'] }, { id: 'L', op: 'sum', inputs: ['c'] }],
          output: 'L',
        },
        inputs: { x: { shape: [4000, 1], data: Array.from({ length: 4000 }, (_, i) => i / 4000) }, y: { shape: [1, 4000], data: Array.from({ length: 4000 }, (_, i) => 1 - i / 4000) } },
        options: { dtype: 'float32' },
      };
      const res = await post(app, '/v1/forward', product);
      expect(res.status).toBe(504);
      expect(await stoppedCounts(app)).toEqual({ 'running timeout': 1 });
      expect(app.pool.workerStarts).toBe(1);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  }, 30_000);

  it.each(['auto', 'off'])('a time limit reached inside a convolution split over two cores stops both halves: 504, no thread terminated (BLAS=%s)', async (blas) => {
    const limit = 300;
    const app = await startApp({ workers: 2, timeoutMs: limit, flopBudget: NO_BUDGET, maxElements: 40_000_000, blas });
    try {
      const parts = () => secondCoreParts(app);
      // a worker's first convolution of several samples starts its helper thread: its next ones split
      const res1 = await post(app, '/v1/forward', convBody(2, 8));
      expect(res1.status).toBe(200);
      const before = await parts();
      // until the request lands on a worker whose helper is ready (each worker starts its own)
      let tries = 0;
      while (tries < 3 && (await parts()) === before) {
        await new Promise((r) => setTimeout(r, 1500));
        tries++;
        const started = Date.now();
        const res = await post(app, '/v1/forward', convBody(8));
        expect(res.status).toBe(504);
        expect(Date.now() - started).toBeLessThan(limit + 1000);
      }
      expect(await parts()).toBeGreaterThan(before);
      expect(await stoppedCounts(app)).toEqual({ 'running timeout': tries });
      expect(app.pool.workerStarts).toBe(2);
      expect((await post(app, '/v1/forward', convBody(2, 8))).body.loss).toBeCloseTo(res1.body.loss, 3);
    } finally {
      await app.close();
    }
  }, 60_000);
});
