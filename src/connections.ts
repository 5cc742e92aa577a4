import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import cluster from 'node:cluster';
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { AppConfig } from './config.js';
import { ERRORS, HttpError, problem, type ErrorCode } from './errors.js';

// What slow and idle clients may hold (docs/operations.md "Slow and idle clients"): a connection
// sending its headers or body too slowly gets a 408 and is closed, an idle keep-alive connection is
// closed after its timeout, and past the connection cap new connections are closed on arrival. No
// inactivity timeout beyond these: a request waiting for a long computation sends nothing and must
// not be cut.

/** Node checks the header and request timeouts of every connection this often, not continuously. */
export const checkIntervalMs = (config: AppConfig) => Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 10)));

/** The Fastify options that set the HTTP server's timeouts. */
export function connectionOptions(config: AppConfig): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout'> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  // (MAX_REQUESTS_PER_SOCKET is counted by requestsPerSocket below, not by Node, whose 503 is bare)
  return {
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // given to http.createServer, which checks headersTimeout ≤ requestTimeout there
    http: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: checkIntervalMs(config) },
  };
}

/**
 * What the server constructor does not take: MAX_CONNECTIONS, per process. In one of several
 * processes (node:cluster) a connection its server.maxConnections refuses goes back to the primary,
 * which hands it to another, and back, for as long as it stays open: there each process closes what
 * is over its own count itself.
 */
export function capConnections(server: Server, config: AppConfig): void {
  if (!cluster.isWorker) {
    server.maxConnections = config.maxConnections;
    return;
  }
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open > config.maxConnections) socket.destroy();
  });
}

/**
 * MAX_REQUESTS_PER_SOCKET as Node counts it: the last request a connection may carry is answered with
 * `Connection: close`, and Node closes the connection after that answer. A request a client pipelined
 * past it fails here, before any of its work (its problem, CONNECTION_SPENT, is logged; it is never
 * written, the connection being closed first), and stays unanswered: HTTP clients send unanswered
 * pipelined requests again on a new connection. Node's own limit answered it with a bare 503, which
 * clients do not retry, and left the connection open.
 */
export function requestsPerSocket(max: number) {
  const served = new WeakMap<Socket, number>();
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const socket = request.raw.socket;
    const n = (served.get(socket) ?? 0) + 1;
    served.set(socket, n);
    if (n < max) return done();
    reply.header('connection', 'close');
    if (n === max) return done();
    done(new HttpError('CONNECTION_SPENT', `this connection has carried its ${max} requests (MAX_REQUESTS_PER_SOCKET) and is closing: send the request again on a new connection`));
  };
}

/**
 * Whether the client went away while its body was arriving: the body's stream then fails ('aborted'),
 * and that failure reaches the error handler like any other parser error.
 */
export const bodyAbandoned = (request: FastifyRequest): boolean => !request.raw.complete && request.raw.destroyed;

/** The most of a refused request's body that is read and dropped so that its client hears the refusal. */
const LINGER_MAX_BYTES = 64 * 2 ** 20;

/**
 * Runs `answer` for a request refused before its body has arrived (over the body limit, say), which
 * Fastify closes the connection after. Its client is most likely still sending, and many read only
 * once they are done (fetch, Python's urllib): closed under them, they see EPIPE instead of the
 * problem. So the rest of a body of declared length up to LINGER_MAX_BYTES is read and dropped before
 * the answer, as nginx's lingering close does, within REQUEST_TIMEOUT_MS. A longer body, or one of
 * unknown length, is answered and cut off at once.
 */
export function answerAfterBody(request: FastifyRequest, reply: FastifyReply, answer: () => void): void {
  const raw = request.raw;
  const declared = Number(raw.headers['content-length']);
  const arrived = raw.complete || raw.readableEnded || raw.destroyed;
  if (arrived || reply.getHeader('connection') !== 'close' || !(declared <= LINGER_MAX_BYTES)) return answer();
  // should the rest stop arriving, the request's timeout answers 408 instead (clientError)
  raw.once('end', answer);
  raw.resume();
}

/**
 * The answer to a request that Node's HTTP parser refused or that did not arrive in time, before any
 * route saw it: a problem like every other error (Fastify's own is plain JSON), and the connection
 * closed.
 */
export function clientError(this: FastifyInstance, err: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
  // a reset connection has no one to answer
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, detail]: [ErrorCode, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['REQUEST_TIMEOUT', 'the request\'s headers or body did not arrive within the server\'s time limits; the connection is closed']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? ['HEADERS_TOO_LARGE', 'the request\'s headers are over the server\'s size limit; the connection is closed']
        : ['MALFORMED_HTTP', `the request is not valid HTTP/1.1 (${err.reason ?? err.message}); the connection is closed`];
  this.log.debug({ err }, 'client error');
  if (socket.writable) {
    const { status } = ERRORS[code];
    this.countUnrouted?.(status);
    const body = JSON.stringify(problem(code, detail));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
