import { getEventListeners } from 'node:events';
import { request } from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { GradientsJob, GradientsResult } from '../../src/engine/api.js';
import { SpecError } from '../../src/engine/errors.js';
import { GradcheckConfigSchema } from '../../src/engine/gradcheck.js';
import { GradientsBodySchema } from '../../src/routes/gradients/schema.js';
import { OptionsSchema } from '../../src/wire/spec.js';
import { decodeModelRequest } from '../../src/wire/request.js';
import { cancelOn, WorkerPool, type PoolOptions } from '../../src/workers/pool.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';
import { NO_BUDGET, waitFor } from '../reliability/helpers.js';

// Through the real worker pool and the compiled worker (dist/, built by `npm test`).

const limits = { maxElements: 1_000_000, maxNodes: 1000 };

/**
 * The two-weight chain as a decoded job, with an optimizer so that it can also be trained; `hidden`
 * names its middle node (the test worker spins forever on one called "stuck_op").
 */
const twoWeightJob = (hidden = 'h') => {
  const nodes = [
    { id: hidden, op: 'mul', inputs: ['w1', 'x'] },
    { id: 'y', op: 'mul', inputs: ['w2', hidden] },
    { id: 'L', op: 'mse_loss', inputs: ['y', 't'] },
  ];
  const model = { ...twoWeight.model, nodes } as never;
  return decodeModelRequest({ ...twoWeight, model, optimizer: { type: 'sgd', lr: 1e-9 }, options: OptionsSchema.parse({}) }, limits) as GradientsJob;
};

/** A training run long enough to outlast any test's time limit. */
const endless = {
  model: { type: 'mlp', inputSize: 16, layers: [{ units: 64, activation: 'tanh' }, { units: 64, activation: 'tanh' }, { units: 1 }] },
  inputs: Array.from({ length: 64 }, (_, i) => Array.from({ length: 16 }, (_, j) => Math.sin(i + j))),
  targets: Array.from({ length: 64 }, (_, i) => [Math.cos(i)]),
  loss: { type: 'mse' },
  optimizer: { type: 'adam', lr: 0.001 },
  steps: 1_000_000,
};

/** A pool for one test, closed after it. */
async function withPool(opts: PoolOptions, test: (pool: WorkerPool) => Promise<void>): Promise<void> {
  const pool = new WorkerPool(opts);
  try {
    await test(pool);
  } finally {
    await pool.close();
  }
}

describe('WorkerPool', () => {
  it('moves a large job\'s tensors to the worker (detached here), copies a small one\'s; typed arrays come back', async () => {
    await withPool({ workers: 1, queueLimit: 4, timeoutMs: 10_000, blas: 'auto' }, async (pool) => {
      // the two-weight chain over a batch of n equal samples: the same mean loss and gradients for any n
      const job = (n: number) =>
        decodeModelRequest(
          {
            ...twoWeight,
            model: twoWeight.model as never,
            params: { w1: 0.5, w2: -1.5 },
            inputs: { x: Array(n).fill(2), t: Array(n).fill(1) },
            options: OptionsSchema.parse({}),
          },
          limits,
        );
      // 2 × 10,000 float32 inputs: 80 kB, over the 64 KiB of a small task; 2 × 1,000: 8 kB, under it
      for (const [n, moved] of [[10_000, true], [1_000, false]] as const) {
        const j = job(n);
        const sent = [j.params.w1!.data, j.params.w2!.data, ...Object.values(j.inputs).map((t) => t.data)];
        const bytes = sent.map((d) => d.byteLength);
        const { result, queueMs, computeMs } = await pool.run<GradientsResult>({ kind: 'gradients', job: j, limits });
        // moved: the event loop's views of the buffers are now empty; copied: they are intact
        expect(sent.map((d) => d.byteLength)).toEqual(moved ? bytes.map(() => 0) : bytes);
        expect(result.gradients.w1!.data).toBeInstanceOf(Float32Array);
        // float32 sums over the batch
        expect(result.gradients.w1!.data[0]).toBeCloseTo(15, 2);
        expect(result.gradients.w2!.data[0]).toBeCloseTo(-5, 2);
        expect(queueMs).toBeGreaterThanOrEqual(0);
        expect(computeMs).toBeGreaterThanOrEqual(0);
      }
    });
  });

  it('moves a graph\'s constants with a large job too, sending it at once rather than at the end of the turn', async () => {
    await withPool({ workers: 1, queueLimit: 4, timeoutMs: 10_000, blas: 'auto' }, async (pool) => {
      await pool.start();
      const n = 10_000; // 2 × 40 kB: a large job
      const model = {
        type: 'graph',
        inputs: ['x'],
        params: { w: { shape: [] } },
        constants: { c: Array(n).fill(3) },
        nodes: [
          { id: 'a', op: 'mul', inputs: ['w', 'x'] },
          { id: 'b', op: 'mul', inputs: ['a', 'c'] },
          { id: 'L', op: 'sum', inputs: ['b'] },
        ],
        output: 'L',
      };
      const j = decodeModelRequest({ model: model as never, params: { w: 0.5 }, inputs: { x: Array(n).fill(2) }, outputGrad: 1, options: OptionsSchema.parse({}) }, limits);
      const constant = (j.model as { constants: Record<string, { data: Float32Array }> }).constants.c!.data;
      expect(constant.byteLength).toBe(4 * n);
      const before = pool.batchesSent;
      const running = pool.run<GradientsResult>({ kind: 'gradients', job: j, limits });
      // a large task with nothing before it waits for no setImmediate (small ones do, to leave together)
      expect(pool.batchesSent - before).toBe(1);
      const { result } = await running;
      expect(constant.byteLength).toBe(0);
      expect(result.gradients.w!.data[0]).toBe(6 * n); // dL/dw = Σ x·c
    });
  });

  it('sends small tasks that wait together as one message, each answered with its own result', async () => {
    await withPool({ workers: 1, queueLimit: 64, timeoutMs: 10_000, blas: 'auto' }, async (pool) => {
      await pool.start();
      const before = pool.batchesSent;
      // w1 = k: dL/dw1 = 2(y − t)·w2·x = 2(−3k − 1)(−1.5)(2) = 18k + 6, dL/dw2 = 2(−3k − 1)·2k
      const tasks = Array.from({ length: 20 }, (_, k) => {
        const j = twoWeightJob();
        j.params.w1!.data[0] = k;
        return pool.run<GradientsResult>({ kind: 'gradients', job: j, limits });
      });
      const results = await Promise.all(tasks);
      results.forEach(({ result }, k) => {
        expect(Array.from(result.gradients.w1!.data)).toEqual([18 * k + 6]);
        expect(Array.from(result.gradients.w2!.data)).toEqual([2 * (-3 * k - 1) * 2 * k]);
      });
      // submitted in one turn of the event loop: sent in one message (at most MAX_BATCH = 32)
      expect(pool.batchesSent - before).toBe(1);
      // one failing task in a batch fails alone
      const bad = twoWeightJob();
      bad.params.w1 = { ...bad.params.w1!, shape: [3] };
      const mixed = await Promise.allSettled([
        pool.run<GradientsResult>({ kind: 'gradients', job: twoWeightJob(), limits }),
        pool.run<GradientsResult>({ kind: 'gradients', job: bad, limits }),
        // not a request's fault but ours (the engine given no job): a plain Error, a 500 for that request only
        pool.run<GradientsResult>({ kind: 'gradients', job: null as never, limits }),
        pool.run<GradientsResult>({ kind: 'gradients', job: twoWeightJob(), limits }),
      ]);
      expect(mixed.map((m) => m.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((mixed[1] as PromiseRejectedResult).reason).toBeInstanceOf(SpecError);
      const internal = (mixed[2] as PromiseRejectedResult).reason as Error;
      expect(internal).not.toBeInstanceOf(SpecError);
      expect(internal.message).toMatch(/null/);
      expect(internal.stack).toMatch(/gradients/);
      expect(pool.batchesSent - before).toBe(2);
    });
  });

  it('leaves no timer behind a finished task; a client that goes away stops its task, not its worker', async () => {
    await withPool({ workers: 1, queueLimit: 4, timeoutMs: 60_000, blas: 'auto' }, async (pool) => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      await pool.start();
      expect(pool.workerStarts).toBe(1);
      const before = timers();
      for (let i = 0; i < 5; i++) await pool.run<GradientsResult>({ kind: 'gradients', job: twoWeightJob(), limits });
      // each task's time limit is cleared with it, not left running for 60 s
      expect(timers()).toBe(before);

      const gone = new AbortController();
      const running = pool.run({ kind: 'train', job: twoWeightJob(), limits, config: { steps: 100_000_000 } }, cancelOn(gone.signal));
      while (pool.busyWorkers === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50)); // well into the run
      const t0 = performance.now();
      gone.abort();
      await expect(running).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      // stopped between two nodes, not by terminating the thread
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(pool.workerStarts).toBe(1);
      expect(timers()).toBe(before);
      const after = await pool.run<GradientsResult>({ kind: 'gradients', job: twoWeightJob(), limits });
      expect(Array.from(after.result.gradients.w1!.data)).toEqual([15]);
      expect(pool.workerStarts).toBe(1);
    });
  });

  it('drops a queued task whose client goes away at once, without waiting for a worker', async () => {
    await withPool({ workers: 1, queueLimit: 4, timeoutMs: 60_000, blas: 'auto' }, async (pool) => {
      await pool.start();
      const first = new AbortController();
      const running = pool.run({ kind: 'train', job: twoWeightJob(), limits, config: { steps: 100_000_000 } }, cancelOn(first.signal));
      while (pool.busyWorkers === 0) await new Promise((r) => setTimeout(r, 5));
      const second = new AbortController();
      const queued = pool.run({ kind: 'gradients', job: twoWeightJob(), limits }, cancelOn(second.signal));
      expect(pool.queueDepth).toBe(1);
      second.abort();
      await expect(queued).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      expect(pool.queueDepth).toBe(0);
      expect(pool.busyWorkers).toBe(1); // the first is still running
      first.abort();
      await expect(running).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      expect(pool.workerStarts).toBe(1);
    });
  });

  it('a small task still running at a sweep listens to its client from then on, and stops in its worker when it goes, or at the sweep when it has gone already', async () => {
    await withPool({ workers: 1, queueLimit: 4, timeoutMs: 60_000, blas: 'auto' }, async (pool) => {
      await pool.start();
      // a few hundred bytes of tensors (a small task) around ~10,000 forward passes of finite differences
      const model = { type: 'mlp', inputSize: 4, layers: [{ units: 128, activation: 'tanh' }, { units: 128, activation: 'tanh' }, { units: 1 }] };
      const job = decodeModelRequest(GradientsBodySchema.parse({ model, inputs: [[0.1, 0.2, 0.3, 0.4]], targets: [[1]], loss: { type: 'mse' } }) as never, limits);
      const gone = new AbortController();
      const listening = () => getEventListeners(gone.signal, 'abort').length;
      const running = pool.run({ kind: 'gradcheck', job, config: GradcheckConfigSchema.parse({ maxElementsPerParam: 4096 }), limits }, cancelOn(gone.signal));
      // not from the start: from the first sweep that finds it still there
      expect(listening()).toBe(0);
      await waitFor(() => listening() === 1, 2_000, 'a sweep to listen to the client');
      expect(pool.busyWorkers).toBe(1);
      gone.abort();
      await expect(running).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      expect(listening()).toBe(0);
      // stopped between two nodes, not by terminating the thread
      expect(pool.workerStarts).toBe(1);

      // a client gone before any sweep, which then finds it gone (a listener added now would never hear it)
      const early = new AbortController();
      const stopped = pool.run({ kind: 'gradcheck', job, config: GradcheckConfigSchema.parse({ maxElementsPerParam: 4096 }), limits }, cancelOn(early.signal));
      early.abort();
      await expect(stopped).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      expect(getEventListeners(early.signal, 'abort')).toHaveLength(0);
      expect(pool.workerStarts).toBe(1);
    });
  });

  it('a task waiting in a running batch whose client goes away fails at once, and its worker skips it', async () => {
    // the test worker spins forever on a graph whose first node is "stuck_op" (fixtures/crash-worker.ts)
    const filename = path.resolve(import.meta.dirname, '../../dist/test/reliability/fixtures/crash-worker.js');
    await withPool({ workers: 1, queueLimit: 8, timeoutMs: 1000, blas: 'auto', filename }, async (pool) => {
      await pool.start();
      const before = pool.batchesSent;
      const stuck = pool.run({ kind: 'gradients', job: twoWeightJob('stuck_op'), limits });
      const gone = new AbortController();
      const waiting = pool.run({ kind: 'gradients', job: twoWeightJob(), limits }, cancelOn(gone.signal));
      let stuckSettled = false;
      void stuck.catch(() => (stuckSettled = true));
      await waitFor(() => pool.batchesSent - before === 1 && pool.busyWorkers === 1, 2_000, 'the batch of two sent');
      gone.abort();
      await expect(waiting).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
      // answered while the stuck task still runs, not when its batch ends
      expect(stuckSettled).toBe(false);
      expect(pool.queueDepth).toBe(0);
      await expect(stuck).rejects.toMatchObject({ code: 'TIMEOUT' });
      // the terminated worker is replaced, and nothing was sent again
      await waitFor(() => pool.workerStarts === 2, 5_000, 'the worker replaced');
      expect(pool.batchesSent - before).toBe(1);
      expect(Array.from((await pool.run<GradientsResult>({ kind: 'gradients', job: twoWeightJob(), limits })).result.gradients.w1!.data)).toEqual([15]);
    });
  });

  it('reports the kernel backend the worker selected', async () => {
    await withPool({ workers: 1, queueLimit: 1, timeoutMs: 10_000, blas: 'off' }, async (pool) => {
      expect(await pool.start()).toBe('wasm');
    });
  });

  it('fails to start, with the error, when its worker module fails to load; the threads are not started again', async () => {
    const filename = path.join(import.meta.dirname, 'fixtures/failing-worker.mjs');
    await withPool({ workers: 2, queueLimit: 1, timeoutMs: 10_000, blas: 'off', filename }, async (pool) => {
      await expect(pool.start()).rejects.toThrow(/does not load/);
      expect(pool.workerStarts).toBe(2);
    });
  });

  it('closes only once every worker has loaded its module: a thread terminated while koffi loads aborts the process', async () => {
    const filename = path.join(import.meta.dirname, 'fixtures/slow-loading-worker.mjs');
    const pool = new WorkerPool({ workers: 2, queueLimit: 1, timeoutMs: 10_000, blas: 'off', filename });
    const t0 = performance.now();
    await pool.close();
    // the fixture takes 300 ms to load
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe('a full pool and a slow computation', () => {
  it('503 with Retry-After when the queue is full; 504 past TIMEOUT_MS; the run is stopped, its worker kept', async () => {
    const app = await startApp({ workers: 1, queueLimit: 0, timeoutMs: 1000, flopBudget: NO_BUDGET });
    try {
      const slow = post(app, '/v1/train', endless);
      while (app.pool.busyWorkers === 0) await new Promise((r) => setTimeout(r, 5));

      // over IN_PLACE_FLOPS: a computation that would wait for a worker
      const full = await post(app, '/v1/gradients', { ...endless, steps: undefined });
      expectProblem(full, 503, 'QUEUE_FULL');
      expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      expectProblem(await slow, 504, 'TIMEOUT');

      // the training loop stopped between two nodes: the same worker answers the next request
      const after = await post(app, '/v1/gradients', twoWeight);
      expect(after.status).toBe(200);
      expect(after.body.gradients.w1).toBe(15);
      expect(app.pool.workerStarts).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('finishes in-flight requests on close; readiness goes false first', async () => {
    const app = await startApp({ workers: 1 });
    const running = post(app, '/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.001 }, steps: 1500 });
    while (app.pool.busyWorkers === 0) await new Promise((r) => setTimeout(r, 5));
    const closing = app.close();
    while (app.accepting) await new Promise((r) => setTimeout(r, 1));
    expect(app.pool.busyWorkers).toBe(1); // still computing: the pool closes after the request is answered
    const r = await running;
    expect(r.status).toBe(200);
    expect(r.body.losses).toHaveLength(1500);
    await closing;
  });
});

describe('NDJSON over a real socket', () => {
  it('a client that hangs up mid-stream stops its run; the worker is kept', async () => {
    const app = await startApp({ workers: 1, timeoutMs: 60_000, flopBudget: NO_BUDGET });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      // a client that closes its socket as soon as the first steps arrive
      const body = JSON.stringify(endless);
      await new Promise<void>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/train',
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.once('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end(body);
      });
      await waitFor(() => app.pool.busyWorkers === 0, 5_000, 'the run to stop');
      expect(app.pool.workerStarts).toBe(1);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
      expect(app.pool.workerStarts).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('sends the first steps before the run is over', async () => {
    const app = await startApp({ workers: 1, timeoutMs: 20_000 });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/v1/train`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify({ ...endless, steps: 300 }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      const first = decoder.decode((await reader.read()).value);
      // the first chunk holds early steps, not the final object
      expect(JSON.parse(first.split('\n')[0]!).step).toBe(1);
      expect(first).not.toContain('"losses"');
      let rest = first;
      for (let c = await reader.read(); !c.done; c = await reader.read()) rest += decoder.decode(c.value);
      const lines = rest.trimEnd().split('\n');
      expect(lines).toHaveLength(301);
      expect(JSON.parse(lines[300]!).losses).toHaveLength(300);
    } finally {
      await app.close();
    }
  });
});
