import { describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';
import { autocannon } from './autocannon.js';
import { heavyGradcheck, listen, median, percentile, trainBody, waitFor } from './helpers.js';

// Overload: past QUEUE_LIMIT an immediate 503 with Retry-After; under a storm at many times capacity
// only 200 or 503, bounded latency for the accepted requests, and instant recovery afterwards.

/** Gradients of the 16-64-1 MLP: far over IN_PLACE_FLOPS, so a worker computes them. */
const { steps: _steps, ...large } = trainBody(1);

describe('QUEUE_LIMIT', () => {
  it('admits WORKERS running + QUEUE_LIMIT waiting; the next gets an immediate 503 with Retry-After, but for one computed in place', async () => {
    const app = await startApp({ workers: 1, queueLimit: 2, timeoutMs: 30_000 });
    try {
      const running = post(app, '/v1/train', trainBody(400));
      await waitFor(() => app.pool.busyWorkers === 1, 10_000, 'the worker to start');
      const queued = [post(app, '/v1/train', trainBody(5)), post(app, '/v1/train', trainBody(5))];
      await waitFor(() => app.pool.queueDepth === 2, 10_000, 'two queued computations');

      const t0 = performance.now();
      const full = await post(app, '/v1/gradients', large);
      const ms = performance.now() - t0;
      expectProblem(full, 503, 'QUEUE_FULL');
      expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(ms).toBeLessThan(250); // answered at once, not after the queue drained
      expect(app.pool.busyWorkers).toBe(1); // the long run is still going
      // refused before its body is read: a malformed body gets the 503, not the parser's 400
      const unparsed = await app.inject({ method: 'POST', url: '/v1/gradients', headers: { 'content-type': 'application/json' }, payload: '{"model": ' + ' '.repeat(100_000) });
      expect(unparsed.statusCode).toBe(503);
      expect(unparsed.json().code).toBe('QUEUE_FULL');
      // registering a model is no computation: it goes on, so a client's re-register loop does
      const registered = await post(app, '/v1/models', twoWeight.model);
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
      // a computation small enough for the event loop (IN_PLACE_FLOPS) never waits in the queue: it is answered
      const inPlace = app.pool.computedInPlace;
      const tiny = await post(app, '/v1/gradients', twoWeight);
      expect(tiny.status, JSON.stringify(tiny.body)).toBe(200);
      expect(tiny.body.gradients.w1).toBe(15);
      expect(app.pool.computedInPlace).toBe(inPlace! + 1);
      expect((await post(app, '/v1/forward', twoWeight)).status).toBe(200);
      expect(app.pool.queueDepth).toBe(2);

      // everything admitted completes
      for (const r of await Promise.all([running, ...queued])) expect(r.status).toBe(200);
      expect((await post(app, '/v1/gradients', large)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('an autocannon storm at many times capacity', () => {
  it('answers only 200 or 503, keeps accepted latency bounded, and recovers at once', { timeout: 60_000 }, async () => {
    const workers = 2;
    const queueLimit = 4;
    const capacity = workers + queueLimit;
    const app = await startApp({ workers, queueLimit, timeoutMs: 30_000 });
    try {
      const base = await listen(app);
      // a small body and a small answer around milliseconds of compute: the workers, not the event
      // loop (which the load generator shares here), are the bottleneck
      const url = `${base}/v1/gradcheck`;
      const body = JSON.stringify(heavyGradcheck);
      const headers = { 'content-type': 'application/json' };
      const once = async () => {
        const t0 = performance.now();
        const r = await fetch(url, { method: 'POST', headers, body });
        const text = await r.text();
        return { status: r.status, ms: performance.now() - t0, text: r.status === 200 ? '' : text };
      };
      for (let i = 0; i < 5; i++) await once(); // warm up
      const singles: number[] = [];
      for (let i = 0; i < 15; i++) singles.push((await once()).ms);
      const single = median(singles);

      const latency = new Map<number, number[]>();
      const badRetryAfter: string[] = [];
      const connections = capacity * 12;
      const instance = autocannon({
        url,
        connections,
        duration: 5,
        timeout: 20,
        requests: [
          {
            method: 'POST',
            headers,
            body,
            onResponse: (status, resBody, _context, resHeaders) => {
              if (status !== 503) return;
              const ra = Number(resHeaders?.['retry-after']);
              if (!(ra >= 1) || !resBody.includes('"QUEUE_FULL"')) badRetryAfter.push(`${resHeaders?.['retry-after']} ${resBody.slice(0, 100)}`);
            },
          },
        ],
      });
      instance.on('response', (_client, status, _bytes, ms) => {
        if (!latency.has(status)) latency.set(status, []);
        latency.get(status)!.push(ms);
      });
      const result = await instance;

      const counts = Object.fromEntries([...latency].map(([s, xs]) => [s, xs.length]));
      const ok = latency.get(200) ?? [];
      const p99 = percentile(ok, 99);
      // an accepted request waits behind at most QUEUE_LIMIT others shared by WORKERS workers
      const queueBound = Math.ceil(capacity / workers) * single;
      const report = { single, queueBound, p99, p50: median(ok), counts, errors: result.errors, timeouts: result.timeouts };

      expect(Object.keys(counts).sort(), JSON.stringify(report)).toEqual(['200', '503']);
      expect(result.errors, JSON.stringify(report)).toBe(0);
      expect(result.timeouts, JSON.stringify(report)).toBe(0);
      expect(counts[503], JSON.stringify(report)).toBeGreaterThan(counts[200]!);
      expect(badRetryAfter, JSON.stringify(report)).toEqual([]);
      // generous: the load generator shares the two cores with the workers and the server
      expect(p99, JSON.stringify(report)).toBeLessThan(4 * queueBound + 250);

      // Once the storm stops, what it got admitted drains within its bound. The load generator drops its
      // connections mid-request, which stops those computations and replaces their workers (a thread
      // start and a cold JIT): the first request may wait for a fresh worker, the next are fast again.
      const t0 = performance.now();
      await waitFor(() => app.pool.queueDepth === 0 && app.pool.busyWorkers === 0, 10_000, 'the admitted work to drain');
      const drainMs = performance.now() - t0;
      expect(drainMs, JSON.stringify({ ...report, drainMs })).toBeLessThan(4 * queueBound + 250);
      const first = await once();
      expect(first.status, first.text).toBe(200);
      expect(first.ms, JSON.stringify({ ...report, first })).toBeLessThan(1500);
      const next: number[] = [];
      for (let i = 0; i < 9; i++) {
        const r = await once();
        expect(r.status, r.text).toBe(200);
        next.push(r.ms);
      }
      expect(median(next), JSON.stringify({ ...report, next })).toBeLessThan(3 * single + 50);
    } finally {
      await app.close();
    }
  });
});
