import os from 'node:os';
import { z } from 'zod';

// The service's configuration, read from the environment once at start (docs/operations.md "Configuration":
// the variables and limits). Every variable has a safe default; a bad value stops the start with a message naming it.

// digits only: Number() would read "0x2" as 2 and " " as 0
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^[+-]?\d+$/, 'expected an integer in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

// a list that is set but names nothing ("," or " , ") is a mistake, not "none"
const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
  .refine((xs) => xs.length > 0, 'names nothing: leave the variable unset instead');

/**
 * The speed the default FLOP budget assumes: what a large matrix product reaches here at best, so that
 * what the budget refuses could not finish within TIMEOUT_MS (docs/operations.md "Cost budget").
 */
export const FLOPS_PER_MS = 5e6;

/** event loops when PROCESSES is unset, at most one per worker (docs/operations.md "Processes") */
const DEFAULT_PROCESSES = 2;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const EnvSchema = z.object({
  PORT: int(0, 65535).default(3000).describe('TCP port to listen on'),
  HOST: z.string().min(1).default('0.0.0.0').describe('interface to bind'),
  WORKERS: int(1, 256).default(os.availableParallelism()).describe('compute worker threads (default: one per core), shared out among the PROCESSES'),
  PROCESSES: int(1, 64)
    .optional()
    .describe('event loops (node:cluster processes) sharing the port, each with its share of the WORKERS (default: 2, or 1 where WORKERS is 1): more small requests a second; a lone large request still gets every idle core (docs/operations.md "Processes")'),
  WORKER_NICE: int(0, 19)
    .default(0)
    .describe('nice levels the worker threads run below the event loop (Linux): when both want a core the event loop goes first, so long computations hold up other clients less, but any other busy process on the host slows the computations (0: the same priority)'),
  QUEUE_LIMIT: int(0).default(64).describe('computations waiting for a worker before requests get 503'),
  BODY_LIMIT_MB: z.coerce
    .number()
    .positive()
    .max(1024)
    .refine((mb) => Math.floor(mb * 1024 * 1024) >= 1, 'is under one byte')
    .default(16)
    .describe('largest request body, in MiB'),
  MAX_ELEMENTS: int(1).default(4_000_000).describe('tensor elements in one request, parameters and activations included'),
  MAX_NODES: int(1).default(10_000).describe('graph nodes in one request (an MLP counts after expansion)'),
  TIMEOUT_MS: int(1).default(30_000).describe('longest a computation may take, queueing included, before 504'),
  FLOP_BUDGET: z.coerce
    .number()
    .positive()
    .optional()
    .describe(`estimated floating-point operations one request may need, else 413 before it runs (default: TIMEOUT_MS at ${FLOPS_PER_MS / 1e6} GFLOP/s)`),
  IN_PLACE_FLOPS: int(0)
    .default(2 ** 18)
    .describe('a computation of a known model estimated at most this many FLOPs (forward and backward; each node counts 10,000, each value one more) runs on the event loop, not in a worker: a worker\'s message and wake-up would cost more than it does (0: every computation in a worker)'),
  MODEL_CACHE_ENTRIES: int(1, 1_000_000)
    .default(1024)
    .describe('models kept by id (docs/models.md): on the event loop as validated specs, and in each worker as compiled plans'),
  MODEL_CACHE_MB: z.coerce
    .number()
    // below it the caches hold a few of the smallest models or none: each is evicted as the next comes
    .min(1, 'must be at least 1 (MiB): a smaller cache keeps few models or none, and requests naming them get 404')
    .max(65_536)
    .default(64)
    .describe('bytes those models may hold, in MiB (at least 1), on the event loop and again in each worker; the least recently used go first'),
  HEADERS_TIMEOUT_MS: int(100, 600_000)
    .default(10_000)
    .describe("longest a client may take to send a request's headers, from its connection or its previous request, before 408 and close"),
  REQUEST_TIMEOUT_MS: int(100, 3_600_000)
    .default(60_000)
    .describe('longest a client may take to send a whole request, body included, before 408 and close (at least HEADERS_TIMEOUT_MS)'),
  KEEP_ALIVE_TIMEOUT_MS: int(1, 3_600_000)
    .default(72_000)
    .describe('how long an idle keep-alive connection stays open (longer than a proxy in front keeps its own)'),
  MAX_CONNECTIONS: int(1, 1_000_000)
    .default(4096)
    .describe('open connections at once; past it new ones are closed on arrival (keep it under the process\'s file limit, ulimit -n)'),
  MAX_REQUESTS_PER_SOCKET: int(0)
    .default(0)
    .describe('requests one keep-alive connection may carry before it is closed (0 = no limit)'),
  SHUTDOWN_DELAY_MS: int(0, 600_000)
    .default(0)
    .describe('after SIGTERM, how long /readyz answers 503 while requests are still served, before connections are refused'),
  API_KEYS: list.optional().describe('comma-separated bearer tokens; unset = open'),
  RATE_LIMIT: int(1).optional().describe('requests a minute per client; unset = off'),
  CORS_ORIGINS: list.optional().describe('comma-separated allowed origins (or *); unset = CORS off'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info').describe('pino log level'),
  ACCESS_LOG: z
    .enum(['on', 'off'])
    .default('off')
    .describe('"on": one line at level info for every answered request (method, URL, status, time, request id); "off": only requests refused or failed are logged'),
  BLAS: z.string().min(1).default('auto').describe('"auto", "off", or the path of an OpenBLAS library'),
});

export interface AppConfig {
  port: number;
  host: string;
  workers: number;
  /** event-loop processes sharing the port (cluster.ts); each runs the app with its share of `workers` */
  processes: number;
  /** in one of several processes: the WORKERS of all of them, among which OpenBLAS's threads share the cores */
  replicaWorkers?: number;
  /** nice levels the worker threads run below the event loop (Linux; 0 = the same) */
  workerNice: number;
  queueLimit: number;
  bodyLimitBytes: number;
  maxElements: number;
  maxNodes: number;
  timeoutMs: number;
  /** estimated FLOPs one request may need (engine/cost.ts) */
  flopBudget: number;
  /** computations estimated at most this many FLOPs run on the event loop (workers/pool.ts inPlaceFlops) */
  inPlaceFlops: number;
  /** bounds of the model caches (plugins/models.ts, engine/plans.ts): each one, not their sum */
  modelCacheEntries: number;
  modelCacheBytes: number;
  /** slow and idle clients (connections.ts) */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxRequestsPerSocket: number;
  /** after SIGTERM: readiness 503 but still serving for this long (load balancers notice), then close */
  shutdownDelayMs: number;
  /** empty = no authentication */
  apiKeys: string[];
  /** requests a minute per client; undefined = no rate limit */
  rateLimit?: number;
  /** empty = CORS off */
  corsOrigins: string[];
  logLevel: (typeof LOG_LEVELS)[number];
  /** an info line for every answered request, not only the refused and failed */
  accessLog: boolean;
  blas: string;
  /** check every response against its schema (tests); production trusts its own output */
  validateResponses: boolean;
  /** the compiled worker module; defaults to dist/src/workers/worker.js next to this file */
  workerFile?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv): AppConfig {
  // Empty variables count as unset, as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = EnvSchema.superRefine((e, ctx) => {
    if (e.WORKERS >= 1 && e.PROCESSES !== undefined && e.PROCESSES > e.WORKERS) {
      ctx.addIssue({ code: 'custom', path: ['PROCESSES'], message: `must be at most WORKERS (${e.WORKERS}): each process needs a worker` });
    }
    if (e.REQUEST_TIMEOUT_MS < e.HEADERS_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['REQUEST_TIMEOUT_MS'], message: `must be at least HEADERS_TIMEOUT_MS (${e.HEADERS_TIMEOUT_MS})` });
    }
  }).safeParse(present);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const name = String(i.path[0] ?? '');
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const e = r.data;
  return {
    port: e.PORT,
    host: e.HOST,
    workers: e.WORKERS,
    processes: e.PROCESSES ?? Math.min(DEFAULT_PROCESSES, e.WORKERS),
    workerNice: e.WORKER_NICE,
    queueLimit: e.QUEUE_LIMIT,
    bodyLimitBytes: Math.floor(e.BODY_LIMIT_MB * 1024 * 1024),
    maxElements: e.MAX_ELEMENTS,
    maxNodes: e.MAX_NODES,
    timeoutMs: e.TIMEOUT_MS,
    flopBudget: e.FLOP_BUDGET ?? e.TIMEOUT_MS * FLOPS_PER_MS,
    inPlaceFlops: e.IN_PLACE_FLOPS,
    modelCacheEntries: e.MODEL_CACHE_ENTRIES,
    modelCacheBytes: Math.floor(e.MODEL_CACHE_MB * 1024 * 1024),
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: e.MAX_CONNECTIONS,
    maxRequestsPerSocket: e.MAX_REQUESTS_PER_SOCKET,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    apiKeys: e.API_KEYS ?? [],
    rateLimit: e.RATE_LIMIT,
    corsOrigins: e.CORS_ORIGINS ?? [],
    logLevel: e.LOG_LEVEL,
    accessLog: e.ACCESS_LOG === 'on',
    blas: e.BLAS,
    validateResponses: false,
  };
}

/** The defaults, with overrides; for tests and scripts that build the app without an environment. */
export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return { ...loadConfig({ BLAS: process.env.BLAS }), host: '127.0.0.1', workers: 1, processes: 1, logLevel: 'silent', validateResponses: true, ...overrides };
}
