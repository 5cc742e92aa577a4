import path from 'node:path';
import { expect, it } from 'vitest';
import { WorkerPool } from '../../src/workers/pool.js';
import { startApp, twoWeight } from '../routes/helpers.js';

// What a worker thread retains must not grow with the requests it has served. Found by the soak:
// every streamed /v1/train left ~1 kB behind in its worker (the progress MessagePort, closed but never
// finished closing while the thread library of the time, piscina, kept the thread in its synchronous
// Atomics.wait loop).

const HEAP_WORKER = path.resolve(import.meta.dirname, '../../dist/test/reliability/fixtures/heap-worker.js');

it('a worker retains no memory per streamed training run', { timeout: 60_000 }, async () => {
  const pool = new WorkerPool({ workers: 1, queueLimit: 8, timeoutMs: 10_000, blas: 'auto', filename: HEAP_WORKER });
  const app = await startApp({ workers: 1 }, { pool });
  try {
    const retained = async () => (await app.pool.run<{ heapUsed: number }>({ kind: 'probe' })).result.heapUsed;
    const stream = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await app.inject({
          method: 'POST',
          url: '/v1/train',
          headers: { accept: 'application/x-ndjson' },
          payload: { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps: 2 },
        });
        expect(r.statusCode).toBe(200);
      }
    };
    await stream(300); // warm up: code, caches
    const before = await retained();
    await stream(3000);
    const grown = (await retained()) - before;
    // ~1 kB per run would be 3 MB
    expect(grown, `${(grown / 2 ** 20).toFixed(2)} MB retained after 3000 runs`).toBeLessThan(2 ** 20);
  } finally {
    await app.close();
  }
});
