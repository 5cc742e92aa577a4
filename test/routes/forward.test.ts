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

describe('POST /v1/forward', () => {
  it('returns the loss and the output of the two-weight chain', async () => {
    const r = await post(app, '/v1/forward', twoWeight);
    expect(r.status).toBe(200);
    expect(r.body.loss).toBe(6.25);
    expect(r.body.outputs).toBe(6.25); // the graph's output is the loss node
    expect(r.body.gradients).toBeUndefined();
    expect(String(r.headers['server-timing'])).toMatch(/^queue;dur=[\d.]+, forward;dur=[\d.]+, backward;dur=[\d.]+, total;dur=[\d.]+$/);
  });

  it('returns every node\'s value with options.returnIntermediates, as /v1/gradients does', async () => {
    const r = await post(app, '/v1/forward', { ...twoWeight, options: { returnIntermediates: true } });
    expect(r.status).toBe(200);
    // h = 0.5·2, y = −1.5·h, L = (y − 1)²
    expect(r.body.intermediates).toEqual({ h: 1, y: -1.5, L: 6.25 });
    expect((await post(app, '/v1/forward', twoWeight)).body.intermediates).toBeUndefined();
  });

  it('runs an MLP with an appended loss: outputs [batch, units]', async () => {
    const r = await post(app, '/v1/forward', {
      model: { type: 'mlp', inputSize: 1, layers: [{ units: 1, activation: 'identity' }] },
      params: { 'layers.0.weight': [[2]], 'layers.0.bias': [1] },
      inputs: [[1], [2]],
      targets: [[3], [3]],
      loss: { type: 'mse' },
      options: { encoding: 'flat' },
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs).toEqual({ shape: [2, 1], data: [3, 5] });
    expect(r.body.loss).toBe(2); // ((3−3)² + (5−3)²) / 2
  });

  it('has no optimizer and no outputGrad', async () => {
    expectProblem(await post(app, '/v1/forward', { ...twoWeight, optimizer: { type: 'sgd', lr: 1 } }), 400, 'INVALID_REQUEST');
    expectProblem(await post(app, '/v1/forward', { ...twoWeight, outputGrad: 1 }), 400, 'INVALID_REQUEST');
  });

  it('refuses options.inputGradients, which it could not honour, at that option; false passes', async () => {
    const r = await post(app, '/v1/forward', { ...twoWeight, options: { inputGradients: true } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors).toEqual([{ path: 'options.inputGradients', message: 'a forward pass computes no gradients: ask /v1/gradients' }]);
    expect((await post(app, '/v1/forward', { ...twoWeight, options: { inputGradients: false, returnOutputs: true } })).status).toBe(200);
  });

  it('answers 422 for a shape mismatch, naming the node', async () => {
    const r = await post(app, '/v1/forward', { ...twoWeight, inputs: { x: [1, 2, 3], t: [1, 2] } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].path).toMatch(/^model\.nodes\[\d\]/);
  });
});
