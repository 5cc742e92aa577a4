import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { keyMatcher } from '../../src/plugins/auth.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

// API keys on every /v1 route (listed from the app itself, so a new route cannot slip through),
// constant-time key checks, the rate limit with its headers, and CORS off unless configured.

// timingSafeEqual observed (and still doing its job) wherever the app imports it
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const spied = vi.fn(real.timingSafeEqual);
  return { ...real, default: { ...real, timingSafeEqual: spied }, timingSafeEqual: spied };
});

const KEYS = ['k-alpha-0123456789', 'k-beta-9876543210'];

/** Every /v1 route of the app, from its own OpenAPI document. */
async function v1Routes(app: FastifyInstance): Promise<{ method: string; url: string }[]> {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths)
    .filter(([url]) => url.startsWith('/v1/'))
    .flatMap(([url, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), url })));
}

describe('API_KEYS', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ apiKeys: KEYS });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('every /v1 route answers 401 problem+json without a valid bearer token, and not 401 with one', async () => {
    const routes = await v1Routes(app);
    expect(routes.map((r) => `${r.method} ${r.url}`).sort()).toEqual(
      [
        'GET /v1/ops', 'POST /v1/explain', 'POST /v1/forward', 'POST /v1/gradcheck', 'POST /v1/gradients', 'POST /v1/step', 'POST /v1/train',
        'POST /v1/models', 'GET /v1/models/{id}', 'DELETE /v1/models/{id}',
      ].sort(),
    );
    const bad = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer wrong',
      `Bearer ${KEYS[0]!.slice(0, -1)}`,
      `Bearer ${KEYS[0]}x`,
      `Bearer ${KEYS[0]} ${KEYS[1]}`,
      `Basic ${KEYS[0]}`,
      `Token ${KEYS[0]}`,
      KEYS[0],
      `Bearer ${KEYS[0]!.toUpperCase()}`,
    ];
    for (const { method, url } of routes) {
      for (const authorization of bad) {
        const r = await app.inject({ method: method as 'GET', url, headers: authorization === undefined ? {} : { authorization }, payload: method === 'POST' ? twoWeight : undefined });
        const res = { status: r.statusCode, headers: r.headers, body: r.json() };
        expectProblem(res, 401, 'UNAUTHORIZED');
        expect(r.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      }
      for (const key of KEYS) {
        const r = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${key}` }, payload: method === 'POST' ? {} : undefined });
        expect(r.statusCode, `${method} ${url}`).not.toBe(401);
        expect([200, 400]).toContain(r.statusCode);
      }
    }
  });

  it('other spellings of a /v1 path never compute without a key', async () => {
    for (const url of ['/v1/gradients/', '/v1/gradients?x=1', '/V1/gradients', '//v1/gradients', '/v1//gradients', '/v1/%67radients', '/v1/./gradients', '/x/../v1/gradients']) {
      const r = await post(app, url, twoWeight);
      expect([401, 404], `${url}: ${r.status}`).toContain(r.status);
    }
  });

  it('keys are compared in constant time: one timingSafeEqual per configured key, match or not', () => {
    const spy = vi.mocked(timingSafeEqual);
    const keys = ['one', 'two', 'three'];
    const m = keyMatcher(keys);
    for (const token of ['one', 'three', 'nope', '', 'a-much-longer-token-than-any-key', null]) {
      spy.mockClear();
      expect(m(token)).toBe(token === 'one' || token === 'three');
      expect(spy, String(token)).toHaveBeenCalledTimes(keys.length);
      // fixed-length digests, never the raw strings
      for (const [a, b] of spy.mock.calls) expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });
});

describe('RATE_LIMIT', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ rateLimit: 3, apiKeys: KEYS });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('counts every /v1 route, answers 429 problem+json with the rate-limit headers, leaves probes alone', async () => {
    const auth = { authorization: `Bearer ${KEYS[0]}` };
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await app.inject({ method: 'GET', url: '/v1/ops', headers: auth });
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
      expect(Number(r.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      remaining.push(Number(r.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual([2, 1, 0]);

    const over = await post(app, '/v1/gradients', twoWeight, { headers: auth });
    expectProblem(over, 429, 'RATE_LIMITED');
    expect(over.headers['x-ratelimit-limit']).toBe('3');
    expect(over.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(over.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);

    for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url })).statusCode).toBe(200);
  });

  it('limits key guessing: requests with wrong keys are counted (by address) before they are refused', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(app, '/v1/gradients', twoWeight, { headers: { authorization: `Bearer guess-${i}` } })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});

describe('CORS', () => {
  it('is off by default: no CORS headers, preflight not answered', async () => {
    const app = await startApp();
    try {
      const r = await app.inject({ method: 'OPTIONS', url: '/v1/gradients', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      const p = await post(app, '/v1/gradients', twoWeight, { headers: { origin: 'https://app.example' } });
      expect(p.status).toBe(200);
      expect(p.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('configured with API keys: preflight needs no key; browsers can read errors and the limit headers', async () => {
    const app = await startApp({ corsOrigins: ['https://app.example'], apiKeys: KEYS, rateLimit: 100 });
    try {
      const origin = { origin: 'https://app.example' };
      const pre = await app.inject({
        method: 'OPTIONS',
        url: '/v1/gradients',
        headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(String(pre.headers['access-control-allow-headers'])).toMatch(/authorization/);

      const denied = await post(app, '/v1/gradients', twoWeight, { headers: origin });
      expect(denied.status).toBe(401);
      expect(denied.headers['access-control-allow-origin']).toBe('https://app.example');
      const exposed = String(denied.headers['access-control-expose-headers']).split(/,\s*/);
      for (const h of ['retry-after', 'www-authenticate', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id']) {
        expect(exposed).toContain(h);
      }
    } finally {
      await app.close();
    }
  });
});
