import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { post, startApp } from '../routes/helpers.js';
import { convBody, NO_BUDGET, secondCoreParts, waitFor } from '../reliability/helpers.js';

// One process of several (PROCESSES > 1, src/cluster.ts): its pool sizes OpenBLAS's threads, and a
// convolution's second core (engine/split.ts), over the workers of every process of the replica and
// the requests in flight in all of them (kernels/threads.ts). A convolution that uses a second core
// shows in gradserve_second_core_parts_total.

describe.skipIf(os.availableParallelism() < 2)('a process\'s share of the replica\'s cores', () => {
  it('a lone request uses the cores of the other processes\' idle workers, and only its own while they compute', async () => {
    // alone, one worker would never be given a second core
    const app = await startApp({ workers: 1, replicaWorkers: 2, flopBudget: NO_BUDGET, maxElements: 40_000_000 });
    try {
      const conv = convBody(2, 8);
      // the worker's first convolution of several samples starts its helper thread: later ones split
      expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      let split = 0;
      for (let i = 0; i < 10 && split === 0; i++) {
        await new Promise((r) => setTimeout(r, 300));
        expect((await post(app, '/v1/forward', conv)).status).toBe(200);
        split = await secondCoreParts(app);
      }
      expect(split).toBeGreaterThan(0);

      // another process computing: one core here
      app.pool.setInFlightElsewhere!(1);
      for (let i = 0; i < 3; i++) expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBe(split);

      // idle again, counted as such once it has been for a while (a stream's gaps between requests are not)
      app.pool.setInFlightElsewhere!(0);
      await new Promise((r) => setTimeout(r, 300));
      expect((await post(app, '/v1/forward', conv)).status).toBe(200);
      expect(await secondCoreParts(app)).toBeGreaterThan(split);
    } finally {
      await app.close();
    }
  }, 30_000);
});

describe('the requests a process has in flight', () => {
  it('are told once a turn of the event loop, when they change', async () => {
    const app = await startApp({ workers: 1 });
    try {
      const told: number[] = [];
      app.pool.onInFlight = (n) => told.push(n);
      // three at once: counted in within one turn, so told once; out as each ends
      await Promise.all([1, 2, 3].map(() => app.pool.run({ kind: 'probe' })));
      await waitFor(() => told.at(-1) === 0, 2_000, 'the last count');
      expect(told[0]).toBe(3);
      expect(told.every((n, i) => i === 0 || n !== told[i - 1])).toBe(true);
    } finally {
      await app.close();
    }
  });
});
