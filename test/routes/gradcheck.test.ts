import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from './helpers.js';

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

describe('POST /v1/gradcheck', () => {
  it('passes the two-weight chain, per parameter', async () => {
    const r = await post(app, '/v1/gradcheck', twoWeight);
    expect(r.status).toBe(200);
    expect(r.body.passed).toBe(true);
    expect(Object.keys(r.body.params).sort()).toEqual(['w1', 'w2']);
    expect(r.body.params.w1.checked).toBe(1);
    expect(r.body.params.w1.maxAbsError).toBeLessThan(1e-5);
    expect(r.body.timing.computeMs).toBeGreaterThanOrEqual(0);
  });

  it('fails a check whose tolerance no finite difference can meet', async () => {
    // central differences are exact up to degree 2; for L = w³ their error is h², so h = 0.5 must fail
    const r = await post(app, '/v1/gradcheck', {
      model: { type: 'graph', inputs: [], params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'pow', inputs: ['w', 3] }], output: 'L' },
      params: { w: 1 },
      inputs: {},
      gradcheck: { eps: 0.5, atol: 0, rtol: 0 },
    });
    expect(r.status).toBe(200);
    // numeric = ((1.5)³ − (0.5)³) / 1 = 3.25, backprop = 3: error 0.25
    expect(r.body.params.w.maxAbsError).toBeCloseTo(0.25, 10);
    expect(r.body.passed).toBe(false);
  });

  it('names the element that failed, its backprop and numeric values, and relu\'s kink at 0', async () => {
    const r = await post(app, '/v1/gradcheck', {
      model: { type: 'graph', inputs: [], params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'relu', inputs: ['w'] }], output: 'L' },
      params: { w: 0 },
      inputs: {},
    });
    expect(r.status).toBe(200);
    expect(r.body.params.w).toMatchObject({ maxAbsError: 0.5, passed: false, worst: { index: 0, multiIndex: [], backprop: 0, numeric: 0.5 } });
    expect(r.body.params.w.worst.hint).toMatch(/kink/);
  });

  it('checks at the point sent, read in float64 whatever options.dtype says', async () => {
    // relu at w = 1e-50 has slope 1 on both sides of h = 1e-60; read in float32 first, w was 0, relu's kink
    for (const options of [{}, { dtype: 'float32' }]) {
      const r = await post(app, '/v1/gradcheck', {
        model: { type: 'graph', inputs: [], params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'relu', inputs: ['w'] }], output: 'L' },
        params: { w: 1e-50 },
        inputs: {},
        options,
        gradcheck: { eps: 1e-60, atol: 0, rtol: 1e-5 },
      });
      expect(r.status).toBe(200);
      expect(r.body.params.w.passed).toBe(true);
    }
  });

  it('validates its settings', async () => {
    expectProblem(await post(app, '/v1/gradcheck', { ...twoWeight, gradcheck: { eps: -1 } }), 400, 'INVALID_REQUEST');
  });
});
