import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { primary } from '../cluster.js';
import type { AppConfig } from '../config.js';
import { WorkerPool, type Pool } from '../workers/pool.js';

// The worker pool as an app decoration: onClose waits for running computations, then stops the threads.

declare module 'fastify' {
  interface FastifyInstance {
    pool: Pool;
    /** the GEMM backend the workers selected ('openblas', 'wasm', ...) once the pool is up */
    kernelBackend: string | null;
    /** false until the pool answered its probe, and again as soon as shutdown begins */
    accepting: boolean;
  }
}

export interface PoolPluginOptions {
  config: AppConfig;
  /** a ready-made pool (tests); default: a WorkerPool from the config */
  pool?: Pool;
}

/** Bodies up to this size may hold a computation small enough to run in place; reading one costs little. */
const IN_PLACE_BODY_BYTES = 64 * 1024;

function mayRunInPlace(request: FastifyRequest, config: AppConfig): boolean {
  const route = request.routeOptions.url;
  if (config.inPlaceFlops <= 0 || (route !== '/v1/gradients' && route !== '/v1/forward')) return false;
  // a body of unknown length (chunked) may be any size
  const length = Number(request.headers['content-length']);
  return length >= 0 && length <= IN_PLACE_BODY_BYTES;
}

async function poolPlugin(app: FastifyInstance, opts: PoolPluginOptions): Promise<void> {
  const { config } = opts;
  const pool =
    opts.pool ??
    new WorkerPool({
      workers: config.workers,
      queueLimit: config.queueLimit,
      timeoutMs: config.timeoutMs,
      blas: config.blas,
      nice: config.workerNice,
      filename: config.workerFile,
      plans: { entries: config.modelCacheEntries, bytes: config.modelCacheBytes },
      inPlaceFlops: config.inPlaceFlops,
      replicaWorkers: config.replicaWorkers,
    });
  // one of several processes (cluster.ts): OpenBLAS's threads counted across all of them
  if (primary && pool.setInFlightElsewhere) {
    pool.onInFlight = (n) => primary!.inFlight(n);
    primary.inFlightElsewhere = (n) => pool.setInFlightElsewhere!(n);
  }
  pool.onWorkerError = (err) => app.log.error({ err }, 'a worker failed between tasks; it is replaced');
  app.decorate('pool', pool);
  app.decorate('kernelBackend', null);
  app.decorate('accepting', false);

  app.addHook('onReady', async () => {
    app.kernelBackend = await pool.start();
    app.accepting = true;
    app.log.info({ backend: app.kernelBackend, workers: pool.workers }, 'worker pool ready');
  });
  // Shed load before reading the body: when the queue is full, a compute request is refused before its
  // (possibly megabytes of) JSON is parsed. preParsing runs after the onRequest hooks (auth, rate limit).
  // Registering a model is no computation: a client's re-register-and-retry loop (docs/models.md) goes on.
  // A small gradients or forward body is read: its computation may run in place, never waiting in the
  // queue, which the pool knows only once it is decoded (workers/pool.ts run).
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.method === 'POST' && request.url.startsWith('/v1/') && !request.url.startsWith('/v1/models') && pool.full && !mayRunInPlace(request, config)) {
      done(pool.queueFull());
    } else done(null, payload);
  });
  // Readiness goes false before the server stops taking connections, so a load balancer drains us.
  app.addHook('preClose', async () => {
    app.accepting = false;
  });
  app.addHook('onClose', async () => {
    await pool.close();
  });
}

export default fp(poolPlugin, { name: 'gradserve-pool' });
