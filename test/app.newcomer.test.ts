import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startApp, twoWeight } from './routes/helpers.js';

// What a person trying the service by hand meets first: the root, a wrong method, and answers that
// end with a newline (a shell prompt does not stick to them), with and without response validation.

for (const validateResponses of [true, false]) {
  describe(`validateResponses ${validateResponses}`, () => {
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await startApp({ validateResponses });
    });
    afterAll(async () => {
      await app?.close();
    });

    it('GET / points to the documentation', async () => {
      const r = await app.inject({ method: 'GET', url: '/' });
      expect(r.statusCode).toBe(302);
      expect(r.headers.location).toBe('/docs');
      expect(r.json()).toMatchObject({ docs: '/docs', openapi: '/openapi.json' });
      expect(r.body.endsWith('}\n')).toBe(true);
    });

    it('another method on a known route is a 405 naming the allowed ones, as problem+json', async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'] as const) {
        const r = await app.inject({ method, url: '/v1/gradients' });
        expectProblem({ status: r.statusCode, headers: r.headers, body: r.json() }, 405, 'METHOD_NOT_ALLOWED');
        expect(r.headers.allow).toBe('POST');
        expect(r.json().detail).toBe(`/v1/gradients answers POST, not ${method}`);
      }
      const get = await app.inject({ method: 'POST', url: '/healthz?x=1', payload: {} });
      expect(get.statusCode).toBe(405);
      expect(get.headers.allow).toBe('GET, HEAD');
      // a path with a parameter too
      const put = await app.inject({ method: 'PUT', url: '/v1/models/sha256:abc' });
      expect([put.statusCode, put.headers.allow]).toEqual([405, 'DELETE, GET, HEAD']);
      // an unknown path stays a 404
      expect((await app.inject({ method: 'PUT', url: '/v1/models/a/b' })).statusCode).toBe(404);
      const none = await app.inject({ method: 'GET', url: '/v1/gradient' });
      expectProblem({ status: none.statusCode, headers: none.headers, body: none.json() }, 404, 'NOT_FOUND');
    });

    it('every JSON answer ends with one newline: results, problems, NDJSON lines, the OpenAPI document', async () => {
      const answers = [
        await app.inject({ method: 'POST', url: '/v1/gradients', payload: twoWeight }),
        await app.inject({ method: 'POST', url: '/v1/gradients', payload: { ...twoWeight, options: { encoding: 'base64' } } }),
        await app.inject({ method: 'POST', url: '/v1/forward', payload: twoWeight }),
        await app.inject({ method: 'GET', url: '/healthz' }),
        await app.inject({ method: 'GET', url: '/v1/ops' }),
        await app.inject({ method: 'GET', url: '/openapi.json' }),
        await app.inject({ method: 'POST', url: '/v1/gradients', payload: {} }),
        await app.inject({ method: 'GET', url: '/nowhere' }),
        await app.inject({
          method: 'POST',
          url: '/v1/train',
          headers: { accept: 'application/x-ndjson' },
          payload: { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps: 2 },
        }),
      ];
      for (const r of answers) {
        expect(r.body, r.body.slice(0, 200)).toMatch(/[}\]]\n$/);
        expect(r.body.endsWith('\n\n')).toBe(false);
        for (const line of r.body.trimEnd().split('\n')) JSON.parse(line);
      }
      expect(answers.at(-1)!.body.trimEnd().split('\n')).toHaveLength(3);
    });
  });
}
