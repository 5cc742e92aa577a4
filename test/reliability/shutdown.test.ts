import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { twoWeight } from '../routes/helpers.js';
import { trainBody } from './helpers.js';
import { freshRequest, postJson, startServer, type RawResponse, type ServerProcess } from './server-process.js';

// Graceful shutdown of the real process: on SIGTERM readiness turns 503 first, the in-flight request
// completes with its 200, new connections are refused, and the process exits 0.

/**
 * A training body that takes about 1.5 × `ms` on this server, calibrated on it (machines differ). A
 * run's time is a fixed part (its plan, its answer) plus its steps', and a short run is mostly the
 * first: a 200-step probe read 15–30 × a step's warm time, and the request sized from it sometimes
 * ended before the shutdown it was meant to outlast. So a step's time is taken from two lengths of run,
 * each the faster of two; it is at least half of the longer run's average (the fixed part cannot be
 * more). The request may run longer on a busy machine, which the tests' TIMEOUT_MS leaves room for.
 */
async function slowBody(server: ServerProcess, ms: number) {
  const fastest = async (steps: number) => {
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const probe = await postJson(`${server.base}/v1/train`, trainBody(steps));
      expect(probe.status).toBe(200);
      best = Math.min(best, JSON.parse(probe.body).timing.computeMs);
    }
    return best;
  };
  await fastest(200); // warm
  const short = await fastest(SHORT);
  const long = await fastest(LONG);
  const perStep = Math.max((long - short) / (LONG - SHORT), long / LONG / 2);
  return trainBody(Math.min(1_000_000, Math.ceil((1.5 * ms) / perStep)));
}

const [SHORT, LONG] = [500, 5000];

/** A fresh connection's fate: its answer, its error's code, or 'STALLED' when it has neither after `stallMs`. */
const refused = (url: string, stallMs = 3000) =>
  Promise.race([
    freshRequest(url).then(
      (r) => r,
      (e: NodeJS.ErrnoException) => e.code,
    ),
    new Promise<'STALLED'>((r) => setTimeout(() => r('STALLED'), stallMs).unref()),
  ]);

async function startSlow(server: ServerProcess, ms: number) {
  const body = await slowBody(server, ms);
  const settled: { r?: RawResponse } = {};
  const done = postJson(`${server.base}/v1/train`, body).then((r) => (settled.r = r));
  // the computation has started once the pool reports a busy worker
  const t0 = Date.now();
  for (;;) {
    const ready = JSON.parse((await freshRequest(`${server.base}/readyz`)).body);
    if (ready.busyWorkers >= 1) break;
    if (Date.now() - t0 > 5000) throw new Error('the slow request never started');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { steps: body.steps, done, settled };
}

describe('SIGTERM', () => {
  it('default: stops taking connections at once, finishes the in-flight request, exits 0', { timeout: 60_000 }, async () => {
    const server = await startServer({ WORKERS: '1', TIMEOUT_MS: '60000' });
    try {
      const slow = await startSlow(server, 2500);
      const t0 = Date.now();
      server.child.kill('SIGTERM');

      let code: unknown;
      while ((code = await refused(`${server.base}/healthz`)) !== 'ECONNREFUSED') {
        expect(Date.now() - t0, `still accepting: ${JSON.stringify(code)}`).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(slow.settled.r).toBeUndefined(); // refused while the slow request was still computing

      const r = await slow.done;
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).losses).toHaveLength(slow.steps);
      expect(await server.exited).toBe(0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('a stream answered on a kept-alive connection: the connection is closed when it ends, and the process exits 0 at once', { timeout: 60_000 }, async () => {
    // its headers went out before the shutdown, without Connection: close; the connection must not
    // wait out KEEP_ALIVE_TIMEOUT_MS (72 s here) nor the grace period (30 s)
    const server = await startServer({ WORKERS: '1', TIMEOUT_MS: '20000' });
    const agent = new Agent({ keepAlive: true });
    try {
      // long enough to be under way at SIGTERM, sent as soon as the first line is in
      const body = JSON.stringify(trainBody(3000));
      let sawLine = () => {};
      const firstLine = new Promise<void>((r) => (sawLine = r));
      const answer = new Promise<{ status: number; lines: string[]; endedAt: number }>((resolve, reject) => {
        const req = request(`${server.base}/v1/train`, { method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk;
            if (text.includes('\n')) sawLine();
          });
          res.on('end', () => resolve({ status: res.statusCode!, lines: text.trim().split('\n'), endedAt: Date.now() }));
        });
        req.on('error', reject);
        req.end(body);
      });
      await firstLine;
      server.child.kill('SIGTERM');
      const r = await answer;
      expect(r.status).toBe(200);
      expect(JSON.parse(r.lines.at(-1)!).losses.length).toBeGreaterThan(1);
      expect(await server.exited).toBe(0);
      expect(Date.now() - r.endedAt).toBeLessThan(3000);
    } finally {
      agent.destroy();
      server.child.kill('SIGKILL');
    }
  });

  it('with SHUTDOWN_DELAY_MS: /readyz turns 503 first while requests are still served, then connections are refused', { timeout: 90_000 }, async () => {
    const delay = 1500;
    const server = await startServer({ WORKERS: '2', TIMEOUT_MS: '60000', SHUTDOWN_DELAY_MS: String(delay) });
    try {
      const slow = await startSlow(server, delay + 6000);
      const t0 = Date.now();
      server.child.kill('SIGTERM');

      // readiness first: 503 on a new connection, while liveness and computations still answer
      let ready = await freshRequest(`${server.base}/readyz`);
      while (ready.status === 200 && Date.now() - t0 < 500) ready = await freshRequest(`${server.base}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).code).toBe('NOT_READY');
      const notReadyAt = Date.now() - t0;
      expect(notReadyAt).toBeLessThan(500);
      expect((await freshRequest(`${server.base}/healthz`)).status).toBe(200);
      const during = await postJson(`${server.base}/v1/gradients`, twoWeight);
      expect(during.status).toBe(200);
      expect(JSON.parse(during.body).gradients.w1).toBe(15);

      // then the listener closes, with the slow request still computing; the bound only ends the wait
      // (the timer can be seconds late on a loaded machine), the order is what is checked. Four clients
      // open connections back to back meanwhile, and none may hang: node:cluster's primary strands one
      // that it hands to the last process as that process closes its listener (nodejs/node#21746),
      // and without cluster.ts closeStranded it would wait for the slow request
      let refusedAt = 0;
      let longest = 0;
      const poll = async () => {
        for (;;) {
          const start = Date.now();
          const fate = await refused(`${server.base}/healthz`);
          longest = Math.max(longest, Date.now() - start);
          if (fate === 'ECONNREFUSED') {
            refusedAt ||= Date.now() - t0;
            return;
          }
          expect(Date.now() - t0).toBeLessThan(delay + 8000);
          await new Promise((r) => setTimeout(r, 1));
        }
      };
      await Promise.all([poll(), poll(), poll(), poll()]);
      expect(refusedAt).toBeGreaterThanOrEqual(delay - 100);
      expect(longest, 'a connection neither answered, reset nor refused for this long').toBeLessThan(2000);
      expect(slow.settled.r).toBeUndefined();

      const r = await slow.done;
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).losses).toHaveLength(slow.steps);
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/closing: draining in-flight requests/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
