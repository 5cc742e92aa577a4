import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp } from './helpers.js';

// Class indices and token ids through HTTP in each integer form (docs/api.md "Integer inputs"): nested
// JSON integers, base64 int32/int64; an embedding, then a next-id cross-entropy with ignoreIndex.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

const b64 = (a: Int32Array | BigInt64Array) => Buffer.from(a.buffer).toString('base64');

const model = {
  type: 'graph',
  inputs: ['ids', 'next'],
  params: { E: { shape: [6, 4] } },
  nodes: [
    { id: 'h', op: 'embedding', inputs: ['ids', 'E'], attrs: { paddingIdx: 0 } },
    { id: 'z', op: 'linear', inputs: ['h', 'E'] },
    { id: 'zt', op: 'transpose', inputs: ['z'], attrs: { perm: [0, 2, 1] } },
    { id: 'L', op: 'cross_entropy_loss', inputs: ['zt', 'next'] },
  ],
  output: 'L',
};
const ids = [[1, 3, 3, 0], [5, 1, 2, 3]];
const next = [3, 3, 0, -100, 1, 2, 3, -100];

describe('integer inputs', () => {
  it('nested JSON integers, base64 int32 and base64 int64 give the same loss and gradients', async () => {
    const forms = [
      { ids, next: [next.slice(0, 4), next.slice(4)] },
      { ids: { shape: [2, 4], dtype: 'int32', base64: b64(Int32Array.from(ids.flat())) }, next: { shape: [2, 4], dtype: 'int64', base64: b64(BigInt64Array.from(next.map(BigInt))) } },
    ];
    const answers = [];
    for (const inputs of forms) {
      const r = await post(app, '/v1/gradients', { model, inputs, options: { dtype: 'float64' } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      answers.push(r.body);
    }
    expect(Number.isFinite(answers[0].loss)).toBe(true);
    expect(answers[1].loss).toBe(answers[0].loss);
    expect(answers[1].gradients).toEqual(answers[0].gradients);
  });

  it('index inputs read as zeros in inputGradients, and explain writes out the embedding\'s local Jacobian', async () => {
    const r = await post(app, '/v1/gradients', { model, inputs: { ids, next: [next.slice(0, 4), next.slice(4)] }, options: { inputGradients: true } });
    expect(r.status).toBe(200);
    expect(r.body.inputGradients.ids.flat()).toEqual(new Array(8).fill(0));
    const small = { ...model, params: { E: { shape: [3, 2] } } };
    const e = await post(app, '/v1/explain', { model: small, inputs: { ids: [[1, 2]], next: [[2, -100]] } });
    expect(e.status, JSON.stringify(e.body)).toBe(200);
    const h = e.body.nodes.find((n: { id: string }) => n.id === 'h');
    expect(h.edges[0].local).toBeNull();
    // ∂h[0, i, d]/∂E[r, c] = 1 where r = ids[0, i] and c = d: one 1 per output element
    expect(h.edges[1].shape).toEqual([1, 2, 2, 3, 2]);
    const ones = (h.edges[1].local as number[]).flat(4);
    expect(ones.filter((v) => v === 1).length).toBe(4);
    expect(ones.filter((v) => v !== 0 && v !== 1)).toEqual([]);
  });

  it('an index out of range: 422 naming the node input and the element', async () => {
    const r = await post(app, '/v1/gradients', { model, inputs: { ids: [[1, 3, 3, 0], [9, 1, 2, 3]], next: [[3, 3, 0, -100], [1, 2, 3, -100]] } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0]).toEqual({ path: 'model.nodes[0].inputs[0]', message: 'embedding: index 9 at indices[1, 0] is out of range [0, 6)' });
    const t = await post(app, '/v1/gradients', { model, inputs: { ids, next: [[3, 3, 0, -1], [1, 2, 3, -100]] } });
    expectProblem(t, 422, 'INVALID_SPEC');
    expect(t.body.errors[0]).toEqual({ path: 'model.nodes[3].inputs[1]', message: 'cross_entropy_loss: class index -1 at target[0, 3] is out of range [0, 6) and is not ignoreIndex -100' });
  });

  it('an integer that float32 cannot hold exactly: 422 at the tensor, before computing', async () => {
    const big = { shape: [2, 4], dtype: 'int32', base64: b64(Int32Array.from([1, 3, 3, 0, 5, 1, 2, 2 ** 24 + 1])) };
    const r = await post(app, '/v1/gradients', { model, inputs: { ids: big, next: [[3, 3, 0, -100], [1, 2, 3, -100]] } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].path).toBe('inputs.ids.base64');
    expect(r.body.errors[0].message).toMatch(/element 7 \(16777217\) is beyond ±2\^24, where integers stay exact in float32/);
    const dtype = await post(app, '/v1/gradients', { model, inputs: { ids: { ...big, dtype: 'uint8' }, next } });
    expectProblem(dtype, 400, 'INVALID_REQUEST');
  });

  it('an index that is not an integer is named with the digits the client sent, in float32 as in float64 (and so are other refused elements)', async () => {
    for (const dtype of ['float32', 'float64']) {
      const r = await post(app, '/v1/gradients', { model, inputs: { ids: [[1, 3, 3, 0], [5, 1, 2, 0.1]], next: [next.slice(0, 4), next.slice(4)] }, options: { dtype } });
      expectProblem(r, 422, 'INVALID_SPEC');
      expect(r.body.errors[0], dtype).toEqual({ path: 'model.nodes[0].inputs[0]', message: 'embedding: indices[1, 3] = 0.1 is not an integer index' });
    }
    // and so is a probability outside [0, 1]: bce's prediction, a float32 value of the model
    const bce = {
      model: { type: 'graph', inputs: ['p', 't'], nodes: [{ id: 'L', op: 'bce_loss', inputs: ['p', 't'] }], output: 'L' },
      inputs: { p: [0.5, 1.1], t: [0, 1] },
    };
    const r = await post(app, '/v1/forward', bce);
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].message).toBe('bce_loss: prediction[1] = 1.1 is outside [0, 1]');
    // and a negative element of a buffer of squares in an optimizer state
    const step = await post(app, '/v1/step', {
      params: { w: [0.1, 0.2] },
      gradients: { w: [0.3, 0.4] },
      optimizer: { type: 'adagrad', lr: 0.01, state: { step: 1, state: { w: { step: 1, sum: [0, -0.1] } } } },
    });
    expectProblem(step, 422, 'INVALID_SPEC');
    expect(step.body.errors[0].message).toContain('element 1 is -0.1:');
  });

  it('GET /v1/ops says which inputs take no gradient', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/ops' });
    const ops = new Map((r.json().ops as { name: string; nonDifferentiable: number[]; maxArity: number }[]).map((o) => [o.name, o]));
    expect(ops.get('embedding')!.nonDifferentiable).toEqual([0]);
    expect(ops.get('gather')!.nonDifferentiable).toEqual([1]);
    expect(ops.get('where')!.nonDifferentiable).toEqual([0]);
    expect(ops.get('nll_loss')!.nonDifferentiable).toEqual([1, 2]);
    expect(ops.get('cross_entropy_loss')!.maxArity).toBe(3);
  });
});
