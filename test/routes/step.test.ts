import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp } from './helpers.js';

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

describe('POST /v1/step', () => {
  it('takes one SGD step on given gradients: p − lr·g', async () => {
    const r = await post(app, '/v1/step', {
      params: { w1: 0.5, w2: -1.5 },
      gradients: { w1: 15, w2: -5 },
      optimizer: { type: 'sgd', lr: 0.1 },
      options: { dtype: 'float64' },
    });
    expect(r.status).toBe(200);
    expect(r.body.params.w1).toBeCloseTo(-1, 12);
    expect(r.body.params.w2).toBeCloseTo(-1, 12);
    expect(r.body.optimizerState.step).toBe(1);
    expect(String(r.headers['server-timing'])).toMatch(/^queue;dur=[\d.]+, compute;dur=[\d.]+, total;dur=[\d.]+$/);
  });

  it('chains SGD momentum through the returned state as torch does', async () => {
    const opt = { type: 'sgd', lr: 0.1, momentum: 0.9 };
    const first = await post(app, '/v1/step', { params: { w: [1, 2] }, gradients: { w: [1, 1] }, optimizer: opt, options: { dtype: 'float64' } });
    expect(first.status).toBe(200);
    // step 1: buf = g; p = p − lr·buf
    expect(first.body.params.w).toEqual([0.9, 1.9]);
    expect(first.body.optimizerState.state.w.momentum_buffer).toEqual([1, 1]);
    const second = await post(app, '/v1/step', {
      params: first.body.params,
      gradients: { w: [1, 1] },
      optimizer: { ...opt, state: first.body.optimizerState },
      options: { dtype: 'float64' },
    });
    // step 2: buf = 0.9·1 + 1 = 1.9; p = 0.9 − 0.19
    expect(second.body.params.w[0]).toBeCloseTo(0.71, 12);
    expect(second.body.optimizerState.state.w.momentum_buffer[0]).toBeCloseTo(1.9, 12);
    expect(second.body.optimizerState.step).toBe(2);
  });

  it('clips the gradients before the step', async () => {
    const r = await post(app, '/v1/step', {
      params: { w: [0, 0] },
      gradients: { w: [3, 4] },
      optimizer: { type: 'sgd', lr: 1 },
      clipGradNorm: 1,
      options: { dtype: 'float64' },
    });
    expect(r.status).toBe(200);
    // norm 5 → scaled by 1 / (5 + 1e-6)
    expect(r.body.params.w[0]).toBeCloseTo(-3 / (5 + 1e-6), 12);
    expect(r.body.params.w[1]).toBeCloseTo(-4 / (5 + 1e-6), 12);
  });

  it('answers 422 for a gradient that does not fit its parameter, 400 for an unknown optimizer', async () => {
    const bad = await post(app, '/v1/step', { params: { w: [1, 2] }, gradients: { w: [1] }, optimizer: { type: 'sgd', lr: 1 } });
    expectProblem(bad, 422, 'INVALID_SPEC');
    expect(bad.body.errors[0].path).toBe('gradients.w');
    expectProblem(await post(app, '/v1/step', { params: {}, gradients: {}, optimizer: { type: 'lbfgs', lr: 1 } }), 400, 'INVALID_REQUEST');
  });
});
