import { z } from 'zod';

export const HealthSchema = z
  .object({
    status: z.literal('ok').describe('always "ok": the process answers'),
    uptimeSeconds: z.number().min(0).describe('seconds since the process loaded the app'),
  })
  .describe('liveness');

export const LimitsSchema = z
  .object({
    bodyLimitBytes: z.number().int().describe('largest request body in bytes (BODY_LIMIT_MB)'),
    maxElements: z.number().int().describe('tensor elements per request, activations included (MAX_ELEMENTS)'),
    maxNodes: z.number().int().describe('graph nodes per request (MAX_NODES)'),
    timeoutMs: z.number().int().describe('time limit of one computation, queueing included (TIMEOUT_MS)'),
    flopBudget: z.number().describe('estimated floating-point operations one request may need, else 413 before it runs (FLOP_BUDGET)'),
    queueLimit: z.number().int().describe('computations that may wait for a worker (QUEUE_LIMIT)'),
    rateLimitPerMinute: z.number().int().nullable().describe('requests a minute per client on /v1 routes, null = off (RATE_LIMIT)'),
  })
  .describe('the limits in force');

export const ReadySchema = z
  .object({
    status: z.literal('ready').describe('the pool takes computations'),
    kernelBackend: z.string().describe('GEMM backend the workers selected: "openblas", "wasm" or "reference"'),
    workers: z.number().int().describe('worker threads'),
    queueDepth: z.number().int().describe('computations waiting for a worker now'),
    busyWorkers: z.number().int().describe('workers computing now'),
    limits: LimitsSchema,
    auth: z.boolean().describe('whether /v1 routes require a bearer API key'),
    modelCache: z
      .object({
        specs: z
          .object({
            entries: z.number().int().describe('known models'),
            bytes: z.number().int().describe('what they hold, as the cache reckons it'),
            maxEntries: z.number().int().describe('MODEL_CACHE_ENTRIES'),
            maxBytes: z.number().int().describe('MODEL_CACHE_MB in bytes'),
          })
          .describe('validated specs on the event loop, by id'),
        plans: z
          .object({
            entries: z.number().int().describe('compiled graphs, all workers together'),
            bytes: z.number().int().describe('what they hold, as the caches reckon it'),
            hits: z.number().int().describe('compiled graphs reused'),
            misses: z.number().int().describe('graphs of known models compiled'),
            evictions: z.number().int().describe('compiled graphs dropped to stay within the bounds'),
          })
          .describe('each worker\'s compiled graphs of known models, per model and data shapes; each worker has the bounds of `specs`'),
      })
      .describe('the model caches of this replica (docs/models.md)'),
  })
  .describe('readiness, kernel backend and limits');
