// Requests through the worker pool alone, in the bench's own process (no HTTP, no server): what the
// pool's hand-off and the workers cost before any HTTP or event-loop work of the service.
import { performance } from 'node:perf_hooks';
import type { Limits } from '../../src/engine/api.js';
import { GradientsBodySchema } from '../../src/routes/gradients/schema.js';
import { decodeModelRequest, type ModelBody } from '../../src/wire/request.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { processCpuMs } from './common.js';

export interface PoolRate {
  tasksPerSecond: number;
  /** CPU time per task of this process's main thread (the pool's side), and of its other threads (workers, GC); null off Linux */
  cpuPerTask: { mainUs: number; otherUs: number } | null;
}

/**
 * The /v1/gradients `body` decoded once, then run as tasks with `inFlight` of them in flight: for
 * `warmupS` seconds unmeasured (V8 optimizes the workers' code only after many tasks), then `seconds`.
 */
export async function poolThroughput(body: string, workers: number, inFlight: number, seconds: number, warmupS = 0): Promise<PoolRate> {
  const limits: Limits = { maxElements: 4_000_000, maxNodes: 10_000 };
  // parsed without the routes' hook, its model is a spec
  const parsed = GradientsBodySchema.parse(JSON.parse(body)) as ModelBody;
  const pool = new WorkerPool({ workers, queueLimit: 64, timeoutMs: 60_000, blas: 'auto' });
  try {
    await pool.start();
    await pool.run({ kind: 'gradients', job: decodeModelRequest(parsed, limits), limits });
    let done = 0;
    const keepBusy = (s: number) => {
      const end = performance.now() + s * 1000;
      return Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (performance.now() < end) {
            await pool.run({ kind: 'gradients', job: decodeModelRequest(parsed, limits), limits });
            done++;
          }
        }),
      );
    };
    await keepBusy(warmupS);
    done = 0;
    const cpu0 = processCpuMs(process.pid);
    const t0 = performance.now();
    await keepBusy(seconds);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu1 = processCpuMs(process.pid);
    const cpuPerTask =
      cpu0 && cpu1 ? { mainUs: ((cpu1.mainMs - cpu0.mainMs) * 1000) / done, otherUs: ((cpu1.otherMs - cpu0.otherMs) * 1000) / done } : null;
    return { tasksPerSecond: done / elapsed, cpuPerTask };
  } finally {
    await pool.close();
  }
}
