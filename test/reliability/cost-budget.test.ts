import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { ELEMENT_FLOPS, NODE_FLOPS } from '../../src/engine/cost.js';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

// FLOP_BUDGET: a request whose estimated cost (engine/cost.ts, from the compiled graph's shapes) is
// over the budget gets a 413 before it runs; that nothing ran is checked in test/engine/cost.test.ts.

/** A 784-512-512-10 MLP the service initializes, on a batch of 16. */
const largeMlp = {
  model: { type: 'mlp', inputSize: 784, layers: [{ units: 512, activation: 'relu' }, { units: 512, activation: 'relu' }, { units: 10 }] },
  inputs: { shape: [16, 784], data: Array.from({ length: 16 * 784 }, (_, i) => Math.sin(i)) },
  targets: { shape: [16, 10], data: Array.from({ length: 160 }, (_, i) => Math.cos(i)) },
  loss: { type: 'mse' },
};

/** Two 1000×1000 parameters the service initializes, multiplied: 2 GFLOP a forward pass, from a body of a few hundred bytes. */
const product = {
  model: {
    type: 'graph',
    inputs: [],
    params: { a: { shape: [1000, 1000] }, b: { shape: [1000, 1000] } },
    nodes: [{ id: 'c', op: 'matmul', inputs: ['a', 'b'] }, { id: 'L', op: 'sum', inputs: ['c'] }],
    output: 'L',
  },
  inputs: {},
};

describe('FLOP_BUDGET', () => {
  it('defaults to TIMEOUT_MS at the assumed speed, and is validated like the other limits', async () => {
    const { loadConfig, FLOPS_PER_MS } = await import('../../src/config.js');
    expect(loadConfig({ TIMEOUT_MS: '2000' }).flopBudget).toBe(2000 * FLOPS_PER_MS);
    expect(loadConfig({ FLOP_BUDGET: '1e12' }).flopBudget).toBe(1e12);
    expect(() => loadConfig({ FLOP_BUDGET: '-1' })).toThrow(/FLOP_BUDGET="-1"/);
    expect(() => loadConfig({ FLOP_BUDGET: 'lots' })).toThrow(/FLOP_BUDGET="lots"/);
  });

  it('refuses a gradient check of a large model up front with the default budget, naming the estimate, the limit and the way down', async () => {
    const app = await startApp();
    try {
      const res = await post(app, '/v1/gradcheck', { ...largeMlp, gradcheck: { maxElementsPerParam: 4096 } });
      expectProblem(res, 413, 'LIMIT_EXCEEDED');
      expect(res.body.errors[0].path).toBe('gradcheck.maxElementsPerParam');
      const budget = testConfig().flopBudget;
      expect(res.body.detail).toMatch(/the check of 13322 elements .* needs an estimated [\d.]+ GFLOP/);
      expect(res.body.detail).toContain(`over the budget of ${(budget / 1e9).toPrecision(3)} GFLOP (FLOP_BUDGET)`);
      expect(res.body.detail).toContain('gradcheck.maxElementsPerParam');
      // the way down works: a few elements a parameter are checked
      const small = await post(app, '/v1/gradcheck', { ...largeMlp, gradcheck: { maxElementsPerParam: 2 } });
      expect(small.status).toBe(200);
      expect(small.body.params['layers.0.weight'].checked).toBe(2);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).json().limits.flopBudget).toBe(budget);
    } finally {
      await app.close();
    }
  });

  it('refuses a graph over the budget on every compute route, and answers what fits', async () => {
    const app = await startApp({ flopBudget: 3e9 });
    try {
      for (const url of ['/v1/gradients', '/v1/gradcheck']) {
        const res = await post(app, url, product);
        expectProblem(res, 413, 'LIMIT_EXCEEDED');
        expect(res.body.detail).toMatch(/needs an estimated [\d.]+ GFLOP \(2\.00 GFLOP a forward pass over [\d.]+ MiB of values\), over the budget of 3\.00 GFLOP \(FLOP_BUDGET\)/);
      }
      // forward and backward: three passes' worth of the product, the sum (a million elements read, one written) and two nodes
      const pass = 2 * 1000 ** 3 + ELEMENT_FLOPS * (1000 ** 2 + 1) + 2 * NODE_FLOPS;
      expect((await post(app, '/v1/gradients', product)).body.detail).toContain(`needs an estimated ${((3 * pass) / 1e9).toPrecision(3)} GFLOP`);
      const train = await post(app, '/v1/train', { ...product, optimizer: { type: 'sgd', lr: 0.1 }, steps: 1 });
      expectProblem(train, 413, 'LIMIT_EXCEEDED');
      expect(train.body.errors[0].path).toBe('steps');
      // a forward pass alone fits
      expect((await post(app, '/v1/forward', product)).status).toBe(200);
      expect((await post(app, '/v1/gradients', twoWeight)).body.gradients.w1).toBe(15);
    } finally {
      await app.close();
    }
  });
});
