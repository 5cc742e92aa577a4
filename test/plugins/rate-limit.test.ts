import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

describe('RATE_LIMIT', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ rateLimit: 3, apiKeys: ['k1', 'k2'] });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 429 with Retry-After past the limit, per client (API key)', async () => {
    const k1 = { headers: { authorization: 'Bearer k1' } };
    for (let i = 0; i < 3; i++) expect((await post(app, '/v1/gradients', twoWeight, k1)).status).toBe(200);
    const over = await post(app, '/v1/gradients', twoWeight, k1);
    expectProblem(over, 429, 'RATE_LIMITED');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    // another key is another client
    expect((await post(app, '/v1/gradients', twoWeight, { headers: { authorization: 'Bearer k2' } })).status).toBe(200);
  });

  it('does not limit probes', async () => {
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('no RATE_LIMIT', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is off by default', async () => {
    for (let i = 0; i < 5; i++) expect((await post(app, '/v1/forward', twoWeight)).status).toBe(200);
  });
});

describe('RATE_LIMIT counted elsewhere (the primary of PROCESSES > 1)', () => {
  it('answers by that count, and lets a request through when the count fails', async () => {
    const counts = new Map<string, number>();
    let failing = false;
    const app = await startApp({ rateLimit: 2 }, {
      rateCount: async (key, windowMs) => {
        if (failing) throw new Error('the primary did not answer');
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return { current: counts.get(key)!, ttl: windowMs };
      },
    });
    try {
      for (let i = 0; i < 2; i++) expect((await post(app, '/v1/gradients', twoWeight)).status).toBe(200);
      expectProblem(await post(app, '/v1/gradients', twoWeight), 429, 'RATE_LIMITED');
      expect([...counts.values()]).toEqual([3]);
      failing = true;
      expect((await post(app, '/v1/gradients', twoWeight)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
