import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';

const preflight = (app: FastifyInstance, origin: string) =>
  app.inject({
    method: 'OPTIONS',
    url: '/v1/gradients',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });

describe('CORS', () => {
  let open: FastifyInstance;
  let off: FastifyInstance;
  beforeAll(async () => {
    [open, off] = await Promise.all([startApp({ corsOrigins: ['https://app.example'] }), startApp()]);
  });
  afterAll(async () => {
    await Promise.all([open?.close(), off?.close()]);
  });

  it('lets a browser client use models by reference: DELETE, and the x-gradserve-model header', async () => {
    const r = await open.inject({
      method: 'OPTIONS',
      url: '/v1/models/sha256:abc',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'x-gradserve-model' },
    });
    expect(r.statusCode).toBe(204);
    expect(String(r.headers['access-control-allow-methods'])).toContain('DELETE');
    expect(String(r.headers['access-control-allow-headers'])).toContain('x-gradserve-model');
  });

  it('allows only the configured origins', async () => {
    const ok = await preflight(open, 'https://app.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await preflight(open, 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('is off by default', async () => {
    const r = await preflight(off, 'https://app.example');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    // no route answers OPTIONS: a 405 naming POST, and no CORS header
    expect(r.statusCode).toBe(405);
    expect(r.headers.allow).toBe('POST');
  });
});
