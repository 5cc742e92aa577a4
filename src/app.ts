import { createHash, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { primary } from './cluster.js';
import type { AppConfig } from './config.js';
import { capConnections, clientError, connectionOptions, requestsPerSocket } from './connections.js';
import { HttpError } from './errors.js';
import { logStream } from './log-stream.js';
import auth, { bearerToken, keyMatcher } from './plugins/auth.js';
import docs from './plugins/docs.js';
import errors, { sendProblem } from './plugins/errors.js';
import json from './wire/json-body.js';
import safetensors from './wire/safetensors-body.js';
import metrics from './plugins/metrics.js';
import models from './plugins/models.js';
import { isExampleRequest } from './plugins/openapi-document.js';
import pool from './plugins/pool.js';
import routes from './routes/index.js';
import { limitsOf } from './routes/shared/compute.js';
import { checkModelSize } from './wire/request.js';
import type { Pool } from './workers/pool.js';

/** Counts a client's request against RATE_LIMIT: its requests in the window so far, and the ms the window has left. */
export type RateCount = (key: string, windowMs: number) => Promise<{ current: number; ttl: number }>;

export interface BuildOptions {
  /** a ready-made compute pool (tests); default: worker threads per the config */
  pool?: Pool;
  /**
   * RATE_LIMIT counted outside this process; default: by the primary when this process is one of
   * several (cluster.ts), else here (the plugin's own store)
   */
  rateCount?: RateCount;
}

/**
 * At most one log line per request, written when it is answered and naming the request, instead of
 * Fastify's two (on arrival and on completion). Errors and stream failures are logged as Fastify logs
 * them; an answered request gets its access line only with ACCESS_LOG on: the line is a measurable
 * share of a small request's event-loop time, and the requests counted in /metrics and a balancer's
 * own access log stand in for it (docs/operations.md, ACCESS_LOG).
 */
class OneLinePerRequest extends LogController {
  constructor(private readonly accessLog: boolean) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) request.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (this.accessLog) request.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** During shutdown, how often connections that have become idle are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * @fastify/rate-limit's store over `count`: with PROCESSES > 1 the primary keeps the counts for all
 * processes (cluster.ts RateWindows), so a client gets the limit once, not once per process.
 */
const sharedRateStore = (count: RateCount) =>
  class SharedRateStore implements FastifyRateLimitStore {
    incr(key: string, done: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number): void {
      count(key, timeWindow).then((res) => done(null, res), done);
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };

/** The whole service as a Fastify instance; it never listens (server.ts does, tests inject). */
export async function buildApp(config: AppConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // no redaction: the request serializer logs no headers (test/logging.test.ts), and redacting cost every line
    logger: { level: config.logLevel, stream: logStream() },
    logController: new OneLinePerRequest(config.accessLog),
    bodyLimit: config.bodyLimitBytes,
    // /v1/gradients/ is /v1/gradients, as most REST clients and frameworks take it
    routerOptions: { ignoreTrailingSlash: true },
    ...connectionOptions(config),
    clientErrorHandler: clientError,
    // a path Fastify's router refuses (a segment over its length limit, bad percent-encoding): a problem too
    frameworkErrors: (err, _request, reply) => {
      const detail =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a segment of the path is over ${reply.server.initialConfig.maxParamLength} characters` : 'the path is not a valid URL';
      void sendProblem(reply, 'INVALID_REQUEST', `${detail}: ${reply.request.url.slice(0, 200)}`);
      // answered before the request's lifecycle, whose onResponse hooks count the others
      reply.server.countUnrouted?.(400, reply.request.method);
    },
    // a caller's well-formed X-Request-Id is kept, so its logs and ours join up
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    // the OpenAPI document's examples, answered by this app itself, are not logged
    childLoggerFactory: (logger, bindings, opts, raw) => {
      const child = logger.child(bindings, opts);
      if (isExampleRequest(raw)) child.level = 'silent';
      return child;
    },
    // shutdown answers with our problem+json (below), not Fastify's plain 503
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();

  capConnections(app.server, config);
  let closing = false;
  // A connection that has not sent a request is not idle to Node (closeIdleConnections leaves it
  // open), so close() would wait for it until its headers timeout: a client's spare connection
  // (undici opens one after an aborted fetch) or a proxy's pre-opened one would hold the shutdown.
  const unused = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.addHook('preClose', async () => {
    closing = true;
    for (const socket of unused) socket.destroy();
    // close() closes the connections idle when it starts; one that becomes idle later, when a stream
    // whose headers went out before shutdown (no Connection: close) ends, would wait out its keep-alive
    // timeout: idle connections are closed as they come, until the server is closed
    const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
    app.server.once('close', () => clearInterval(sweep));
  });
  // The hooks every request runs take a callback rather than return a promise: the same checks,
  // without a promise and a microtask turn each on the event loop.
  // A response finished after shutdown began must not leave its keep-alive connection open: close()
  // waits for every connection, so an idle one would hold the process until the grace period ends.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    if (held.push([done, payload]) === 1) setImmediate(sendHeld);
  });
  // Answers leave together, once the event loop has read what arrived in this turn (in the check phase
  // that follows), not each as soon as it is ready: a client waiting for its answer is woken once for
  // several, not once for each; on loopback, or behind a proxy on the same host, waking it is a large
  // part of what a small request costs the event loop. A lone request waits for nothing.
  const held: [done: (err: Error | null, payload?: unknown) => void, payload: unknown][] = [];
  const sendHeld = () => {
    for (const [done, payload] of held.splice(0)) {
      try {
        done(null, payload);
      } catch (err) {
        // what Fastify does with an error thrown while it writes an answer: its error handler answers
        done(err as Error);
      }
    }
  };
  app.addHook('onRequest', (request, reply, done) => {
    unused.delete(request.raw.socket);
    reply.header('x-request-id', request.id);
    const encoding = request.headers['content-encoding']?.trim();
    if (encoding && encoding.toLowerCase() !== 'identity') {
      // a compressed body would read as malformed JSON or safetensors
      done(new HttpError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported: send the body uncompressed (safetensors is the compact form)`));
      return;
    }
    if (!closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(new HttpError('SHUTTING_DOWN', 'the service is shutting down; retry on another instance'));
  });
  if (config.maxRequestsPerSocket > 0) app.addHook('onRequest', requestsPerSocket(config.maxRequestsPerSocket));

  await app.register(errors, { bodyLimitBytes: config.bodyLimitBytes });
  // a spec sent again by a client that never registers it is found by its text before it is parsed
  await app.register(json, { knownModel: (text) => app.models.getByText(text) });
  await app.register(safetensors);
  await app.register(docs, config);
  await app.register(pool, { config, pool: options.pool });
  await app.register(models, { config });
  await app.register(metrics);

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      // DELETE forgets a model; x-gradserve-model routes a model's requests to one replica (docs/models.md)
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['content-type', 'authorization', 'accept', 'x-request-id', 'x-gradserve-model'],
      // readable by browser clients: the limit headers and the reason for a 401 too
      exposedHeaders: [
        'server-timing',
        'x-request-id',
        'retry-after',
        'www-authenticate',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
    });
  }

  if (config.rateLimit !== undefined) {
    const known = keyMatcher(config.apiKeys);
    const rateCount = options.rateCount ?? (primary ? (key: string, windowMs: number) => primary!.rate(key, windowMs) : undefined);
    await app.register(rateLimit, {
      global: false,
      max: config.rateLimit,
      timeWindow: 60_000,
      // a client is its API key when it has a valid one (many clients may share a proxy's address)
      keyGenerator: (request) => {
        const token = config.apiKeys.length > 0 ? bearerToken(request) : null;
        return token !== null && known(token)
          ? `key:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`
          : `ip:${request.ip}`;
      },
      allowList: (request) => !request.routeOptions.url?.startsWith('/v1/'),
      // counted elsewhere (one of several processes: by the primary); should it not answer, the request goes on
      ...(rateCount ? { store: sharedRateStore(rateCount), skipOnError: true } : {}),
      errorResponseBuilder: (_request, context) =>
        new HttpError('RATE_LIMITED', `more than ${context.max} requests a minute; retry in ${context.after}`),
    });
    // An app-level hook ahead of the auth check (the plugin's own per-route hooks run after it): a
    // request with a wrong key counts too, so keys cannot be guessed at full speed.
    app.addHook('onRequest', app.rateLimit());
  }

  await app.register(auth, { apiKeys: config.apiKeys });
  const limits = limitsOf(config);
  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkModelSize(request.body, limits);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
  await app.register(routes, { config });
  return app;
}
