import type { FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
import type { AppConfig } from './config.js';

// What slow and idle clients may hold (docs/operations.md "Slow and idle clients"): a connection
// sending its headers or body too slowly gets a 408 and is closed, an idle keep-alive connection is
// closed after its timeout, and past the connection cap new connections are closed on arrival. No
// inactivity timeout beyond these: a request waiting for a long computation sends nothing and must
// not be cut.

/** Node checks the header and request timeouts of every connection this often, not continuously. */
export const checkIntervalMs = (config: AppConfig) => Math.max(10, Math.min(1000, Math.floor(config.headersTimeoutMs / 10)));

/** The Fastify options that set the HTTP server's timeouts. */
export function connectionOptions(config: AppConfig): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout' | 'maxRequestsPerSocket'> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    maxRequestsPerSocket: config.maxRequestsPerSocket,
    // given to http.createServer, which checks headersTimeout ≤ requestTimeout there
    http: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: checkIntervalMs(config) },
  };
}

/** What the server constructor does not take. */
export function capConnections(server: Server, config: AppConfig): void {
  server.maxConnections = config.maxConnections;
}
