import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { probeBackends } from '../../src/engine/kernels/index.js';
import { post, startApp, twoWeight } from './helpers.js';

// The route suites run once per production kernel (vitest.config.ts); this pins that the worker pool
// really computes on the kernel the BLAS setting asks for.
let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app.close());

it('workers compute on the kernel the BLAS setting selects, and /readyz says which', async () => {
  const openblas = probeBackends().find((p) => p.name === 'openblas');
  const expected = process.env.BLAS === 'off' || !openblas?.backend ? 'wasm' : 'openblas';
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  expect(ready.json().kernelBackend).toBe(expected);
  const res = await post(app, '/v1/gradients', twoWeight);
  expect(res.status).toBe(200);
  expect(res.body.gradients).toEqual({ w1: 15, w2: -5 });
});
