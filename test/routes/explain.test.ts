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

describe('POST /v1/explain', () => {
  it('writes dL/dw1 as the product of local derivatives along the path', async () => {
    const r = await post(app, '/v1/explain', twoWeight);
    expect(r.status).toBe(200);
    expect(r.body.loss).toBe(6.25);
    expect(r.body.scalar).toBe(true);
    const w1 = r.body.gradients.find((g: { param: string }) => g.param === 'w1');
    expect(w1.gradient).toBe(15);
    expect(w1.backprop).toBe(15);
    expect(w1.paths).toHaveLength(1);
    expect(w1.paths[0].nodes).toEqual(['L', 'y', 'h', 'w1']);
    expect(w1.paths[0].factors).toEqual([-5, -1.5, 2]);
    expect(r.body.gradients.map((g: { formula: string }) => g.formula)).toEqual([
      'dL/dw1 = dL/dy · dy/dh · dh/dw1 = (−5)·(−1.5)·(2) = 15',
      'dL/dw2 = dL/dy · dy/dw2 = (−5)·(1) = −5',
    ]);
    const y = r.body.nodes.find((n: { id: string }) => n.id === 'y');
    expect(y.adjoint).toBe(-5);
    expect(r.body.dot).toMatch(/^digraph/);
  });

  it('tells the two edges of L = mul(w, w) apart in the formula', async () => {
    const r = await post(app, '/v1/explain', {
      model: { type: 'graph', inputs: [], params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: ['w', 'w'] }], output: 'L' },
      params: { w: 3 },
      inputs: {},
    });
    expect(r.status).toBe(200);
    expect(r.body.gradients[0].formula).toBe('dL/dw = ∂L/∂w (as input 0 of L) + ∂L/∂w (as input 1 of L) = (3) + (3) = 6');
    expect(r.body.nodes.find((n: { id: string }) => n.id === 'L').edges.map((e: { input: number; from: string }) => [e.input, e.from])).toEqual([[0, 'w'], [1, 'w']]);
  });

  it('reads the tensors in float64, as it computes: 0.3 is explained as 0.3, whatever options.dtype says', async () => {
    for (const options of [{}, { dtype: 'float32' }]) {
      const r = await post(app, '/v1/explain', { ...twoWeight, params: { w1: 0.1, w2: 0.7 }, inputs: { x: 0.3, t: 0.2 }, options });
      expect(r.status).toBe(200);
      const value = (id: string) => r.body.nodes.find((n: { id: string }) => n.id === id).value;
      expect(value('x')).toBe(0.3);
      expect(value('h')).toBe(0.1 * 0.3);
      expect(r.body.loss).toBe((0.7 * (0.1 * 0.3) - 0.2) ** 2);
    }
  });

  it('says why gradients is empty for a model whose values are not all scalars (an MLP)', async () => {
    const r = await post(app, '/v1/explain', {
      model: { type: 'mlp', inputSize: 1, layers: [{ units: 2, activation: 'tanh' }, { units: 1 }] },
      inputs: [[0.5]],
      targets: [[1]],
      loss: { type: 'mse' },
    });
    expect(r.status).toBe(200);
    expect(r.body.scalar).toBe(false);
    expect(r.body.gradients).toEqual([]);
    expect(r.body.note).toMatch(/^gradients is empty: path sums are written out only when every value is a scalar, and "[^"]+" has shape \[/);
    expect(r.body.note).toContain('adjoint');
    expect((await post(app, '/v1/explain', twoWeight)).body.note).toBeUndefined();
  });

  it('refuses graphs over its own limits with 413', async () => {
    const nodes = Array.from({ length: 70 }, (_, i) => ({ id: `n${i}`, op: 'neg', inputs: [i === 0 ? 'x' : `n${i - 1}`] }));
    const r = await post(app, '/v1/explain', {
      model: { type: 'graph', inputs: ['x'], nodes, output: 'n69' },
      inputs: { x: 1 },
      outputGrad: 1,
    });
    expectProblem(r, 413, 'LIMIT_EXCEEDED');
    // its own limit, not the service's MAX_NODES, which a larger value would not lift here
    expect(r.body.detail).toMatch(/^model\.nodes: 70 nodes, over explain's limit of 64 nodes: .*\/v1\/gradients/);
    const big = await post(app, '/v1/explain', { ...twoWeight, inputs: { x: new Array(5000).fill(1), t: 1 } });
    expectProblem(big, 413, 'LIMIT_EXCEEDED');
    expect(big.body.detail).toMatch(/over explain's limit of 4096 elements/);
    expect(big.body.detail).not.toContain('MAX_ELEMENTS');
    // found by the worker as it compiles: a 64 × 64 outer product of two 64-element inputs
    const outer = await post(app, '/v1/explain', {
      model: { type: 'graph', inputs: ['a', 'b'], nodes: [{ id: 'p', op: 'matmul', inputs: ['a', 'b'] }, { id: 'L', op: 'sum', inputs: ['p'] }], output: 'L' },
      inputs: { a: { shape: [64, 1], data: new Array(64).fill(1) }, b: { shape: [1, 64], data: new Array(64).fill(1) } },
    });
    expectProblem(outer, 413, 'LIMIT_EXCEEDED');
    expect(outer.body.detail).toMatch(/^model: the graph's values need \d+ elements, over explain's limit of 4096 elements/);
  });
});
