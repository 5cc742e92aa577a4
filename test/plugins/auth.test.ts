import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMatcher } from '../../src/plugins/auth.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

describe('keyMatcher', () => {
  it('accepts exactly the configured keys', () => {
    const m = keyMatcher(['alpha', 'beta-key']);
    expect(m('alpha')).toBe(true);
    expect(m('beta-key')).toBe(true);
    expect(m('alph')).toBe(false);
    expect(m('alphaa')).toBe(false);
    expect(m('')).toBe(false);
    expect(m(null)).toBe(false);
  });
});

describe('bearer API keys', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ apiKeys: ['s3cret', 'other'] });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('401 without a token or with a wrong one, with WWW-Authenticate', async () => {
    const none = await post(app, '/v1/gradients', twoWeight);
    expectProblem(none, 401, 'UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expectProblem(await post(app, '/v1/gradients', twoWeight, { headers: { authorization: 'Bearer wrong' } }), 401, 'UNAUTHORIZED');
    expectProblem(await post(app, '/v1/gradients', twoWeight, { headers: { authorization: 'Basic s3cret' } }), 401, 'UNAUTHORIZED');
    const ops = await app.inject({ method: 'GET', url: '/v1/ops' });
    expect(ops.statusCode).toBe(401);
  });

  it('computes with any configured key', async () => {
    for (const key of ['s3cret', 'other']) {
      const r = await post(app, '/v1/gradients', twoWeight, { headers: { authorization: `Bearer ${key}` } });
      expect(r.status).toBe(200);
      expect(r.body.gradients.w1).toBe(15);
    }
  });

  it('leaves probes, metrics and docs open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs/']) {
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json().auth).toBe(true);
  });
});
