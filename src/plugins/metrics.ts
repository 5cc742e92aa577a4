import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { z } from 'zod';
import { primary } from '../cluster.js';
import { bodyAbandoned } from '../connections.js';
import { readPlanStats } from '../engine/plans.js';
import { isExampleRequest } from './openapi-document.js';
import { SPLIT_STATS } from '../engine/split.js';
import { Series, SeriesMetric } from './series.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts in http_requests_total an answer given outside Fastify's request lifecycle: to a request
     * Node's parser refused (its method unknown: "unparsed") or the router did.
     */
    countUnrouted?(status: number, method?: string): void;
  }
}

// Prometheus metrics on GET /metrics. Each app owns its registry, so several apps (tests) coexist;
// with PROCESSES > 1 the primary sums the processes' registries (cluster.ts), but for Node's own
// metrics (memory, event-loop delay, GC), labelled with each process's index: a sum of two heaps or
// two delays describes neither process.

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const register = new Registry();
  collectDefaultMetrics({ register, ...(primary ? { labels: { process: primary.index } } : {}) });
  if (primary) primary.metricsJson = () => register.getMetricsAsJSON();

  const requests = new SeriesMetric('http_requests_total', 'HTTP requests answered, by route, method and status', 'counter', register);
  const latency = new SeriesMetric(
    'http_request_duration_seconds',
    'time from request to response, by route, method and status',
    'histogram',
    register,
    SECONDS,
  );
  const compute = new SeriesMetric(
    'gradserve_compute_seconds',
    'time computing per task, by task kind (in a worker, or on the event loop for the tiniest)',
    'histogram',
    register,
    SECONDS,
  );
  const pool = app.pool;
  new Gauge({
    name: 'gradserve_queue_depth',
    help: 'computations waiting for a worker',
    registers: [register],
    collect() {
      this.set(pool.queueDepth);
    },
  });
  new Gauge({
    name: 'gradserve_busy_workers',
    help: 'workers running a computation',
    registers: [register],
    collect() {
      this.set(pool.busyWorkers);
    },
  });
  new Gauge({
    name: 'gradserve_workers',
    help: 'worker threads in the pool',
    registers: [register],
    collect() {
      this.set(pool.workers);
    },
  });
  /** A counter that follows a count kept elsewhere (the pool's, the workers' shared cells). */
  const following = (name: string, help: string, read: () => number) => {
    let counted = 0;
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        const now = read();
        this.inc(now - counted);
        counted = now;
      },
    });
  };
  following(
    'gradserve_worker_starts_total',
    'worker threads started: one per worker at start-up, then one per worker replaced after a crash or a time limit',
    () => pool.workerStarts,
  );
  following(
    'gradserve_tasks_in_place_total',
    'computations small enough to run on the event loop rather than in a worker (IN_PLACE_FLOPS)',
    () => pool.computedInPlace ?? 0,
  );
  const splitCount = (cell: number) => () => (pool.splitStats ? Number(Atomics.load(pool.splitStats, cell)) : 0);
  following(
    'gradserve_second_core_parts_total',
    'parts of a lone request\'s convolutions handed to a worker\'s helper thread on a second core (docs/operations.md, Tuning OpenBLAS threads)',
    splitCount(SPLIT_STATS.PARTS),
  );
  following(
    'gradserve_second_core_helpers_given_up_total',
    'helper threads stopped and replaced because a part did not finish in time or they read none',
    splitCount(SPLIT_STATS.GIVEN_UP),
  );
  const computeOf = new Map<string, Series>();
  pool.onTaskDone = (kind, ms) => {
    let series = computeOf.get(kind);
    if (series === undefined) computeOf.set(kind, (series = compute.series({ kind })));
    series.observe(ms / 1000);
  };
  const stopped = new Counter({
    name: 'gradserve_stopped_tasks_total',
    help: 'requests stopped before their end, by where they were (body: arriving; decode: not yet queued; queue; running: stopped between nodes or product blocks; terminated: thread stopped after the grace period) and why (client gone, timeout)',
    labelNames: ['stage', 'reason'] as const,
    registers: [register],
  });
  pool.onTaskStopped = (stage, reason) => stopped.inc({ stage, reason });
  // a client gone while its body arrives: the body's stream fails, and Fastify answers its error
  app.addHook('onError', (request, _reply, _error, done) => {
    if (bodyAbandoned(request)) stopped.inc({ stage: 'body', reason: 'client' });
    done();
  });

  // The model caches (docs/models.md): `specs` on the event loop, `plans` the workers' together
  const cacheCounts = () => ({
    specs: { ...app.models.counts, entries: app.models.sizes.entries, bytes: app.models.sizes.bytes },
    plans: readPlanStats(pool.planStats),
  });
  const cacheMetric = (kind: 'hits' | 'misses' | 'evictions' | 'entries' | 'bytes', help: string) => {
    const Metric = kind === 'entries' || kind === 'bytes' ? Gauge : Counter;
    const seen = { specs: 0, plans: 0 };
    return new Metric({
      name: kind === 'entries' || kind === 'bytes' ? `gradserve_model_cache_${kind}` : `gradserve_model_cache_${kind}_total`,
      help,
      labelNames: ['cache'] as const,
      registers: [register],
      collect(this: Counter<'cache'> | Gauge<'cache'>) {
        const counts = cacheCounts();
        for (const cache of ['specs', 'plans'] as const) {
          const v = counts[cache][kind];
          if (this instanceof Gauge) this.set({ cache }, v);
          else {
            this.inc({ cache }, v - seen[cache]);
            seen[cache] = v;
          }
        }
      },
    });
  };
  cacheMetric('hits', 'model cache hits: a known model used (specs: by ref or inline spec; plans: a compiled graph reused)');
  cacheMetric('misses', 'model cache misses (specs: a ref answered 404 or an inline spec validated; plans: a graph compiled)');
  cacheMetric('evictions', 'models dropped, least recently used first, to stay within MODEL_CACHE_ENTRIES and MODEL_CACHE_MB');
  cacheMetric('entries', 'models in the cache (plans: all workers\' together; with PROCESSES > 1, all processes\' together)');
  cacheMetric('bytes', 'bytes the cached models hold, as the cache reckons them');

  // each label set's series, found by one string
  const children = new Map<string, { requests: Series; latency: Series }>();
  const childOf = (status: number, method: string, route: string) => {
    const key = `${status} ${method} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      const labels = { route, method, status: String(status) };
      child = { requests: requests.series(labels), latency: latency.series(labels) };
      children.set(key, child);
    }
    return child;
  };
  app.addHook('onResponse', (request, reply, done) => {
    if (isExampleRequest(request.raw)) {
      done();
      return;
    }
    // the route pattern, not the URL: unknown URLs must not create unbounded label values (methods
    // are the few Node's parser accepts)
    const child = childOf(reply.statusCode, request.method, request.routeOptions.url ?? 'unmatched');
    child.requests.inc();
    child.latency.observe(reply.elapsedTime / 1000);
    done();
  });
  // answers given outside Fastify's request lifecycle, which the hook above does not see
  app.decorate('countUnrouted', (status: number, method = 'unparsed') => childOf(status, method, 'unmatched').requests.inc());

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        description: 'requests and latency by route and status, queue depth, busy workers, worker starts, compute time, process metrics',
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: z.string().describe('metrics in the Prometheus text format') } },
          },
        },
      },
    },
    async (_request, reply) => {
      reply.type(register.contentType);
      // one of several processes (cluster.ts): theirs summed
      return primary ? primary.metrics() : register.metrics();
    },
  );
}

export default fp(metricsPlugin, { name: 'gradserve-metrics', dependencies: ['gradserve-pool', 'gradserve-models'] });
