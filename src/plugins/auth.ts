import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors.js';

// Bearer API keys on the /v1 routes, only when API_KEYS is set. Keys are compared as SHA-256
// digests with timingSafeEqual: equal lengths by construction, and no early exit on the first
// differing byte, so response time tells nothing about a key. Every key is compared, also after a match.

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function bearerToken(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m ? m[1]! : null;
}

/** A key check over fixed digests; exported for the rate limiter, which keys clients by token. */
export function keyMatcher(keys: readonly string[]): (token: string | null) => boolean {
  const digests = keys.map(digest);
  return (token) => {
    const d = digest(token ?? '');
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(k, d) || ok;
    return ok && token !== null;
  };
}

async function authPlugin(app: FastifyInstance, opts: { apiKeys: readonly string[] }): Promise<void> {
  if (opts.apiKeys.length === 0) return;
  const matches = keyMatcher(opts.apiKeys);
  app.addHook('onRequest', async (request, reply) => {
    // the matched route, not the raw URL, so no spelling of a path slips past
    if (!request.routeOptions.url?.startsWith('/v1/')) return; // probes, metrics and docs stay open
    const token = bearerToken(request);
    if (matches(token)) return;
    reply.header('www-authenticate', 'Bearer realm="gradserve"');
    throw new HttpError('UNAUTHORIZED', token === null ? 'send Authorization: Bearer <API key>' : 'the API key is not valid');
  });
}

export default fp(authPlugin, { name: 'gradserve-auth' });
