import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { post, startApp } from '../routes/helpers.js';
import { convBody, NO_BUDGET, secondCoreParts, waitFor } from '../reliability/helpers.js';

// What sizes OpenBLAS's threads, and a convolution's second core (engine/split.ts), through the real
// pool (kernels/threads.ts): the workers of every process of the replica (PROCESSES > 1, cluster.ts),
// the requests in flight here and in the other processes, and the most of them lately. A one-worker
// pool of a two-worker replica lends a lone convolution the second core, which shows in
// gradserve_second_core_parts_total.

const conv = convBody(2, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The app over a one-worker pool of a two-worker replica. */
async function replicaProcess(contentionMs?: number) {
  const config = testConfig({ workers: 1, flopBudget: NO_BUDGET, maxElements: 40_000_000 });
  const pool = new WorkerPool({ workers: 1, replicaWorkers: 2, contentionMs, queueLimit: 64, timeoutMs: config.timeoutMs, blas: config.blas });
  const app = await startApp(config, { pool });
  // the worker's first convolution of several samples starts its helper thread: later ones split
  expect((await post(app, '/v1/forward', conv)).status).toBe(200);
  let split = 0;
  for (let i = 0; i < 10 && split === 0; i++) {
    await sleep(300);
    expect((await post(app, '/v1/forward', conv)).status).toBe(200);
    split = await secondCoreParts(app);
  }
  expect(split).toBeGreaterThan(0);
  return app;
}

describe.skipIf(os.availableParallelism() < 2)('the cores a request may use', () => {
  it('a lone request uses the cores of the other processes\' idle workers, and only its own while they compute', async () => {
    const app = await replicaProcess();
    try {
      const split = await secondCoreParts(app);
      // another process computing: one core here
      app.pool.setInFlightElsewhere!(1);
      for (let i = 0; i < 3; i++) expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBe(split);
      // idle again, believed once it has been for a while
      app.pool.setInFlightElsewhere!(0);
      await sleep(300);
      expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBeGreaterThan(split);
    } finally {
      await app.close();
    }
  }, 30_000);

  it('a request alone just after others were in flight together keeps to one core until contentionMs has passed', async () => {
    const app = await replicaProcess(2_000);
    try {
      // two at once (one running, one queued), then one alone
      const together = await Promise.all([post(app, '/v1/forward', conv), post(app, '/v1/forward', conv)]);
      for (const r of together) expect(r.status).toBe(200);
      const split = await secondCoreParts(app);
      expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBe(split);
      await sleep(2_100);
      expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBeGreaterThan(split);
    } finally {
      await app.close();
    }
  }, 30_000);
});

describe('the requests a process has in flight', () => {
  /** What the pool tells of three probes run at once, counted in within one turn and out as each ends. */
  async function toldOfThree(overrides: Parameters<typeof startApp>[0]): Promise<number[]> {
    const app = await startApp(overrides);
    try {
      const told: number[] = [];
      app.pool.onInFlight = (n) => told.push(n);
      await Promise.all([1, 2, 3].map(() => app.pool.run({ kind: 'probe' })));
      await waitFor(() => told.at(-1) === 0, 2_000, 'the last count');
      return told;
    } finally {
      await app.close();
    }
  }

  it('are told once a turn of the event loop, when they change', async () => {
    // one worker here, four in the replica (PROCESSES > 1)
    const told = await toldOfThree({ workers: 1, replicaWorkers: 4 });
    expect(told[0]).toBe(Math.min(3, os.availableParallelism()));
    expect(told.every((n, i) => i === 0 || n !== told[i - 1])).toBe(true);
  });

  it('only up to min(cores, the replica\'s workers): past it, every count gives each product one thread', async () => {
    expect(await toldOfThree({ workers: 1 })).toEqual([1, 0]);
  });
});
