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

const b64 = (values: number[], dtype: 'float32' | 'float64' = 'float32') =>
  Buffer.from((dtype === 'float32' ? new Float32Array(values) : new Float64Array(values)).buffer).toString('base64');

describe('POST /v1/gradients', () => {
  it('backpropagates the two-weight chain: L = 6.25, dL/dw1 = 15, dL/dw2 = −5', async () => {
    const r = await post(app, '/v1/gradients', twoWeight);
    expect(r.status).toBe(200);
    expect(r.body.loss).toBe(6.25);
    expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
    // given params are not echoed; the service only returns params it changed or created
    expect(r.body.params).toBeUndefined();
    expect(r.body.diagnostics.globalGradNorm).toBeCloseTo(Math.hypot(15, 5), 5);
    expect(r.body.diagnostics.gradNorms).toEqual({ w1: 15, w2: 5 });
  });

  it('computes a convolution dilated far beyond its input from the taps inside it, at once', async () => {
    // "same" pads the 3 × 3 kernel's whole reach, 40,001 × 40,001 around a 2 × 2 image: only the centre
    // tap sees it, so L = Σ 2·x = 20 and dL/dK is Σ x = 10 at the centre, 0 elsewhere
    const model = {
      type: 'graph', inputs: ['x'], params: { K: { shape: [1, 1, 3, 3] } }, output: 'L',
      nodes: [{ id: 'c', op: 'conv2d', inputs: ['x', 'K'], attrs: { dilation: 20_000, padding: 'same' } }, { id: 'L', op: 'sum', inputs: ['c'] }],
    };
    const r = await post(app, '/v1/gradients', { model, inputs: { x: [[[[1, 2], [3, 4]]]] }, params: { K: [[[[1, 1, 1], [1, 2, 1], [1, 1, 1]]]] } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.loss).toBe(20);
    expect(r.body.gradients.K).toEqual([[[[0, 0, 0], [0, 10, 0], [0, 0, 0]]]]);
  });

  it('clips the global gradient norm before the optimizer step (clip_grad_norm_), returning unclipped gradients', async () => {
    const body = { ...twoWeight, clipGradNorm: 1, optimizer: { type: 'sgd', lr: 0.1 }, options: { dtype: 'float64' } };
    const r = await post(app, '/v1/gradients', body);
    expect(r.status).toBe(200);
    expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
    const coef = 1 / (Math.hypot(15, 5) + 1e-6);
    expect(r.body.params.w1).toBeCloseTo(0.5 - 0.1 * 15 * coef, 12);
    expect(r.body.params.w2).toBeCloseTo(-1.5 + 0.1 * 5 * coef, 12);
    expect(r.body.diagnostics.warnings.map((w: { code: string }) => w.code)).toContain('clipped');
  });

  it('reports timing in the body and the same figures in Server-Timing', async () => {
    const r = await post(app, '/v1/gradients', twoWeight);
    const t = r.body.timing;
    for (const k of ['queueMs', 'forwardMs', 'backwardMs', 'totalMs']) expect(t[k]).toBeGreaterThanOrEqual(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(t.forwardMs + t.backwardMs);
    const header = String(r.headers['server-timing']);
    expect(header).toBe(
      `queue;dur=${t.queueMs}, forward;dur=${t.forwardMs}, backward;dur=${t.backwardMs}, total;dur=${t.totalMs}`,
    );
  });

  it('gives the same numbers whichever encoding the request uses, and answers in options.encoding', async () => {
    const nested = await post(app, '/v1/gradients', twoWeight);
    const flat = await post(app, '/v1/gradients', {
      ...twoWeight,
      params: { w1: { shape: [], data: [0.5] }, w2: { shape: [], data: [-1.5] } },
      inputs: { x: { shape: [], data: [2] }, t: { shape: [], data: [1] } },
      options: { encoding: 'flat' },
    });
    const base64 = await post(app, '/v1/gradients', {
      ...twoWeight,
      params: { w1: { shape: [], dtype: 'float32', base64: b64([0.5]) }, w2: { shape: [], dtype: 'float64', base64: b64([-1.5], 'float64') } },
      inputs: { x: { shape: [], dtype: 'float32', base64: b64([2]) }, t: 1 },
      options: { encoding: 'base64' },
    });
    expect(flat.status).toBe(200);
    expect(base64.status).toBe(200);
    expect(flat.body.gradients.w1).toEqual({ shape: [], data: [15] });
    const g = base64.body.gradients.w2;
    expect(g.dtype).toBe('float32');
    expect(Array.from(new Float32Array(new Uint8Array(Buffer.from(g.base64, 'base64')).buffer))).toEqual([-5]);
    expect(nested.body.loss).toBe(flat.body.loss);
    expect(nested.body.loss).toBe(base64.body.loss);
  });

  it('computes in float64 when asked, and returns outputs, intermediates and input gradients', async () => {
    const r = await post(app, '/v1/gradients', {
      ...twoWeight,
      options: { dtype: 'float64', returnOutputs: true, returnIntermediates: true, inputGradients: true, encoding: 'base64' },
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs.dtype).toBe('float64');
    const h = r.body.intermediates.h;
    const f64 = (t: { base64: string }) => Array.from(new Float64Array(new Uint8Array(Buffer.from(t.base64, 'base64')).buffer));
    expect(f64(h.value)).toEqual([1]); // h = 0.5 · 2
    expect(f64(h.grad)).toEqual([7.5]); // dL/dh = dL/dy · w2 = (−5)(−1.5)
    expect(f64(r.body.inputGradients.x)).toEqual([3.75]); // dL/dx = dL/dh · w1
  });

  it('takes one Adam step after backpropagation, and returns torch-named state to send back', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, options: { dtype: 'float64' }, optimizer: { type: 'adam', lr: 0.01 } });
    expect(r.status).toBe(200);
    // first Adam step: m̂ = g, v̂ = g², so p −= lr · g / (|g| + eps)
    expect(r.body.params.w1).toBeCloseTo(0.5 - 0.01 * (15 / (15 + 1e-8)), 12);
    expect(r.body.params.w2).toBeCloseTo(-1.5 + 0.01 * (5 / (5 + 1e-8)), 12);
    expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
    expect(r.body.optimizerState.step).toBe(1);
    expect(r.body.optimizerState.state.w1.exp_avg).toBeCloseTo(1.5, 12);
    expect(r.body.optimizerState.state.w1.exp_avg_sq).toBeCloseTo(0.225, 12);

    const again = await post(app, '/v1/gradients', {
      ...twoWeight,
      params: r.body.params,
      options: { dtype: 'float64' },
      optimizer: { type: 'adam', lr: 0.01, state: r.body.optimizerState },
    });
    expect(again.status).toBe(200);
    expect(again.body.optimizerState.step).toBe(2);
  });

  it('initializes omitted MLP parameters deterministically and returns them', async () => {
    const body = {
      model: { type: 'mlp', inputSize: 2, layers: [{ units: 3, activation: 'tanh' }, { units: 1 }], init: { scheme: 'default', seed: 7 } },
      inputs: [[1, 2], [3, 4]],
      targets: [[1], [0]],
      loss: { type: 'mse' },
    };
    const a = await post(app, '/v1/gradients', body);
    const b = await post(app, '/v1/gradients', body);
    expect(a.status).toBe(200);
    expect(Object.keys(a.body.params).sort()).toEqual(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']);
    expect(a.body.params['layers.0.weight']).toHaveLength(3);
    expect(a.body.params).toEqual(b.body.params);
    expect(a.body.gradients['layers.1.weight']).toHaveLength(1);
    // and says so, naming each parameter and the scheme it was drawn with
    const w = a.body.diagnostics.warnings.find((x: { code: string }) => x.code === 'initialized_params');
    expect(w.message).toContain('layers.0.weight with default(seed=7)');
    expect(w.message).toContain('layers.1.bias with default(seed=7)');
    expect(w.params.params['layers.0.bias']).toEqual({ scheme: 'default', seed: 7 });
  });

  it('warns about a graph parameter missing from params (a typo, say), and only that one', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, params: { w1: 0.5 } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.params)).toEqual(['w2']);
    const init = r.body.diagnostics.warnings.filter((x: { code: string }) => x.code === 'initialized_params');
    expect(init).toHaveLength(1);
    expect(init[0].message).toMatch(/^not in params, so initialized by the service: w2 with normal\(mean=0, std=1, seed=0\)\./);
    expect(Object.keys(init[0].params.params)).toEqual(['w2']);
    const full = await post(app, '/v1/gradients', twoWeight);
    expect(full.body.diagnostics.warnings).toEqual([]);
  });

  it('backpropagates an outputGrad instead of a loss (a VJP)', async () => {
    const model = { ...twoWeight.model, nodes: twoWeight.model.nodes.slice(0, 2), output: 'y', inputs: ['x'] };
    const r = await post(app, '/v1/gradients', { model, params: twoWeight.params, inputs: { x: 2 }, outputGrad: 2 });
    expect(r.status).toBe(200);
    expect(r.body.loss).toBeUndefined();
    expect(r.body.gradients).toEqual({ w1: 2 * -1.5 * 2, w2: 2 * 1 });
  });

  it('rejects schema violations with 400 and the field paths', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, model: { ...twoWeight.model, nodes: [{ id: 'h', op: 'mul', inputs: 'w1' }] } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors).toContainEqual(expect.objectContaining({ path: 'model.nodes[0].inputs' }));

    const noTargets = await post(app, '/v1/gradients', { ...twoWeight, loss: { type: 'mse' } });
    expectProblem(noTargets, 400, 'INVALID_REQUEST');
    expect(noTargets.body.errors).toEqual([{ path: 'targets', message: 'required with `loss`' }]);

    const unknownField = await post(app, '/v1/gradients', { ...twoWeight, learningRate: 1 });
    expectProblem(unknownField, 400, 'INVALID_REQUEST');
  });

  it('rejects meaningless graphs with 422 naming the node', async () => {
    const r = await post(app, '/v1/gradients', {
      ...twoWeight,
      model: { ...twoWeight.model, nodes: [...twoWeight.model.nodes.slice(0, 2), { id: 'L', op: 'mse_loss', inputs: ['y', 'nowhere'] }] },
    });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].path).toBe('model.nodes[2].inputs[1]');
  });

  it('rejects ragged arrays, bad flat lengths and bad base64 with the tensor\'s path', async () => {
    const ragged = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: [[1, 2], [3]], t: 1 } });
    expectProblem(ragged, 422, 'INVALID_SPEC');
    expect(ragged.body.errors[0].path).toBe('inputs.x[1]');
    const flat = await post(app, '/v1/gradients', { ...twoWeight, params: { w1: { shape: [2], data: [1] }, w2: 1 } });
    expectProblem(flat, 422, 'INVALID_SPEC');
    expect(flat.body.errors[0].path).toBe('params.w1.data');
    const base64 = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], dtype: 'float32', base64: b64([1]) }, t: 1 } });
    expectProblem(base64, 422, 'INVALID_SPEC');
    expect(base64.body.errors[0].path).toBe('inputs.x.base64');
    const nonFinite = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [], dtype: 'float64', base64: b64([Infinity], 'float64') }, t: 1 } });
    expectProblem(nonFinite, 422, 'INVALID_SPEC');
  });

  it('a graph of its parameters alone takes no inputs: L = w·w', async () => {
    const r = await post(app, '/v1/gradients', { model: { type: 'graph', params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: ['w', 'w'] }], output: 'L' }, params: { w: 3 } });
    expect(r.status).toBe(200);
    expect([r.body.loss, r.body.gradients.w]).toEqual([9, 6]);
  });

  it('tells an MLP\'s tensor from a graph\'s map of inputs', async () => {
    const graphWithTensor = await post(app, '/v1/gradients', { ...twoWeight, inputs: [1, 2] });
    expectProblem(graphWithTensor, 422, 'INVALID_SPEC');
    expect(graphWithTensor.body.errors[0].path).toBe('inputs');
    const mlpWithMap = await post(app, '/v1/gradients', {
      model: { type: 'mlp', inputSize: 1, layers: [{ units: 1 }] },
      inputs: { x: [[1]] },
      outputGrad: [[1]],
    });
    expectProblem(mlpWithMap, 422, 'INVALID_SPEC');
    expect(mlpWithMap.body.errors[0].path).toBe('inputs');
  });
});
