import { describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';
import { listen, trainBody, waitFor } from './helpers.js';

// TIMEOUT_MS: work over the limit gets a 504 within about twice the limit, its worker is stopped and
// replaced, and afterwards the pool runs WORKERS computations at once again.

const LIMIT = 1000;
const endless = trainBody(1_000_000);

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

describe('TIMEOUT_MS', () => {
  it('504 within 2× the limit for every worker at once; then both workers compute side by side', async () => {
    const app = await startApp({ workers: 2, queueLimit: 4, timeoutMs: LIMIT });
    try {
      const [a, b] = await Promise.all([timed(post(app, '/v1/train', endless)), timed(post(app, '/v1/train', endless))]);
      for (const { value, ms } of [a, b]) {
        expectProblem(value, 504, 'TIMEOUT');
        expect(ms).toBeGreaterThanOrEqual(LIMIT - 50);
        expect(ms).toBeLessThan(2 * LIMIT);
      }

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
    const app = await startApp({ workers: 1, queueLimit: 4, timeoutMs: LIMIT });
    try {
      const first = timed(post(app, '/v1/train', endless));
      await waitFor(() => app.pool.busyWorkers === 1, 5_000, 'the first computation');
      const queued = await timed(post(app, '/v1/gradients', twoWeight));
      expectProblem(queued.value, 504, 'TIMEOUT');
      expect(queued.ms).toBeLessThan(2 * LIMIT);
      expectProblem((await first).value, 504, 'TIMEOUT');
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  });

  it('a streamed training run that outlives the limit ends with an error line, within 2× the limit', async () => {
    const app = await startApp({ workers: 1, timeoutMs: LIMIT });
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
      // and the worker was replaced
      expect((await post(app, '/v1/gradients', twoWeight)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
