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

const sgd = { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, options: { dtype: 'float64' } };

describe('POST /v1/train', () => {
  it('takes `steps` SGD steps; the first loss is the untrained one and the curve goes down', async () => {
    const r = await post(app, '/v1/train', { ...sgd, steps: 5 });
    expect(r.status).toBe(200);
    expect(r.body.losses).toHaveLength(5);
    expect(r.body.losses[0]).toBe(6.25);
    for (let i = 1; i < 5; i++) expect(r.body.losses[i]).toBeLessThan(r.body.losses[i - 1]);
    // the first step is the one /v1/gradients + /v1/step would take: w1 = 0.5 − 0.01·15
    const one = await post(app, '/v1/train', { ...sgd, steps: 1 });
    expect(one.body.params.w1).toBeCloseTo(0.35, 12);
    expect(one.body.params.w2).toBeCloseTo(-1.45, 12);
    expect(r.body.optimizerState.step).toBe(5);
  });

  it('warns non_finite when the run diverges, naming the step the loss stopped being finite; not otherwise', async () => {
    // lr 10 on the chain: each step multiplies the error, so the loss overflows float64 within steps
    const r = await post(app, '/v1/train', { ...sgd, optimizer: { type: 'sgd', lr: 10 }, steps: 12 });
    expect(r.status).toBe(200);
    const step = (r.body.losses as (number | null)[]).findIndex((l) => l === null) + 1;
    expect(step).toBeGreaterThan(1);
    expect(r.body.warnings).toHaveLength(1);
    expect(r.body.warnings[0]).toMatchObject({ code: 'non_finite', params: { step, params: ['w1', 'w2'] } });
    expect(r.body.warnings[0].message).toMatch(new RegExp(`^training diverged: the loss first became (NaN|Infinity) at step ${step} of 12; after the last step w1, w2 hold NaN or ±Inf\\. Lower the learning rate`));
    expect((await post(app, '/v1/train', { ...sgd, steps: 3 })).body.warnings).toEqual([]);
  });

  it('streams one NDJSON line per step, then the final object', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/train',
      payload: { ...sgd, steps: 4 },
      headers: { accept: 'application/x-ndjson' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = res.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 4).map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(lines[0].loss).toBe(6.25);
    expect(lines[0].globalGradNorm).toBeCloseTo(Math.hypot(15, 5), 10);
    const final = lines[4];
    expect(final.losses).toEqual(lines.slice(0, 4).map((l) => l.loss));
    expect(final.optimizerState.step).toBe(4);
  });

  it('answers an error found before the first step as an ordinary problem, also when streaming', async () => {
    const bad = { ...sgd, model: { ...twoWeight.model, nodes: [{ id: 'L', op: 'nope', inputs: ['w1'] }] }, steps: 3 };
    const res = await app.inject({ method: 'POST', url: '/v1/train', payload: bad, headers: { accept: 'application/x-ndjson' } });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('needs an optimizer and a step count', async () => {
    const none = await post(app, '/v1/train', { ...twoWeight, steps: 3 });
    expectProblem(none, 400, 'INVALID_REQUEST');
    // the description shared with /v1/gradients, where the optimizer may be left out, must not call it optional here
    expect(none.body.errors[0]).toMatchObject({ path: 'optimizer' });
    expect(none.body.errors[0].message).toMatch(/^required: an optimizer step after backpropagation/);
    expectProblem(await post(app, '/v1/train', { ...sgd, steps: 0 }), 400, 'INVALID_REQUEST');
  });

  it('refuses the options that ask for what a training run does not answer, each at its own path', async () => {
    const r = await post(app, '/v1/train', { ...sgd, steps: 1, options: { returnOutputs: true, returnIntermediates: true, inputGradients: true } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors.map((e: { path: string }) => e.path)).toEqual(['options.returnOutputs', 'options.returnIntermediates', 'options.inputGradients']);
    expect(r.body.errors[0].message).toBe('a training run answers its parameters, not outputs: ask /v1/forward with the trained params');
    // a /v1/gradients body with the flags off trains as it is
    const ok = await post(app, '/v1/train', { ...sgd, steps: 1, options: { returnOutputs: false, inputGradients: false, dtype: 'float64' } });
    expect(ok.status).toBe(200);
  });

  it('walks minibatches with batchSize', async () => {
    const r = await post(app, '/v1/train', {
      model: { type: 'mlp', inputSize: 1, layers: [{ units: 1 }] },
      params: { 'layers.0.weight': [[0]], 'layers.0.bias': [0] },
      inputs: [[1], [2], [3]],
      targets: [[2], [4], [6]],
      loss: { type: 'mse' },
      optimizer: { type: 'sgd', lr: 0.01 },
      steps: 3,
      batchSize: 2,
      options: { dtype: 'float64' },
    });
    expect(r.status).toBe(200);
    // step 1 sees rows 0-1: loss ((0−2)² + (0−4)²) / 2 = 10
    expect(r.body.losses[0]).toBe(10);
  });

  it('a problem in a minibatch names the rows of the data the minibatch holds', async () => {
    const r = await post(app, '/v1/train', {
      model: { type: 'graph', inputs: ['ids'], params: { E: { shape: [3, 2] } }, nodes: [{ id: 'e', op: 'embedding', inputs: ['ids', 'E'] }, { id: 'L', op: 'sum', inputs: ['e'] }], output: 'L' },
      params: { E: [[1, 2], [3, 4], [5, 6]] },
      inputs: { ids: [0, 1, 2, 7] },
      optimizer: { type: 'sgd', lr: 0.1 },
      steps: 4,
      batchSize: 2,
    });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].message).toBe(
      "embedding: index 7 at indices[1] is out of range [0, 3) (in the minibatch of step 2, whose rows are the data's rows 2, 3, in that order)",
    );
  });
});
