import { createServer, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import {
  dataParallelStep,
  type FlatTensor,
  type GradientsRequest,
  type GradientsResponse,
  type Optimizer,
  type OptimizerState,
  type Params,
} from '../../examples/data-parallel.js';
import { expectClose, rng } from '../helpers/op-check.js';

// Two in-process instances of the service stand for two replicas. A batch split across them with
// summed losses must give what one instance gives for the whole batch, to float64 rounding.

const apps: FastifyInstance[] = [];
const calls: number[] = [];
let replicas: string[];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const app = await buildApp(testConfig());
    calls.push(0);
    app.addHook('onRequest', async (req) => {
      if (req.url === '/v1/gradients') calls[i]!++;
    });
    apps.push(app);
  }
  replicas = await Promise.all(apps.map((app) => app.listen({ host: '127.0.0.1', port: 0 })));
});

afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

async function single(body: GradientsRequest): Promise<GradientsResponse> {
  const res = await fetch(`${replicas[0]}/v1/gradients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, options: { ...body.options, encoding: 'flat' } }),
  });
  const json = (await res.json()) as GradientsResponse;
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json;
}

const flat = (t: unknown) => t as FlatTensor;
/** flat tensors (and plain numbers, like torch's per-parameter `step`) by name */
function expectSameTensors(actual: Record<string, unknown>, expected: Record<string, unknown>, tol = 1e-12): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const name of Object.keys(expected)) {
    if (typeof expected[name] === 'number') {
      expect(actual[name], name).toBe(expected[name]);
      continue;
    }
    expect(flat(actual[name]).shape, name).toEqual(flat(expected[name]).shape);
    expectClose(flat(actual[name]).data, flat(expected[name]).data, tol);
  }
}

const matrix = (rowsN: number, cols: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Array.from({ length: rowsN }, () => Array.from({ length: cols }, () => scale * (2 * r() - 1)));
};

describe('examples/data-parallel', () => {
  it('three Adam steps over 2 replicas and 3 uneven shards match one replica on the whole batch', async () => {
    const base: GradientsRequest = {
      model: {
        type: 'mlp',
        inputSize: 3,
        layers: [{ units: 5, activation: 'tanh' }, { units: 2, activation: 'identity' }],
        init: { scheme: 'default', seed: 3 },
      },
      inputs: matrix(10, 3, 1),
      targets: matrix(10, 2, 2),
      loss: { type: 'mse', reduction: 'sum' },
      options: { dtype: 'float64', encoding: 'flat' },
    };
    const optimizer: Optimizer = { type: 'adam', lr: 0.05, weightDecay: 0.01 };
    const before = [...calls];

    // parameters left out: both runs start from the seeded initialization
    let dpParams: Params | undefined;
    let dpState: OptimizerState | undefined;
    let refParams: Params | undefined;
    let refState: OptimizerState | undefined;
    for (let step = 0; step < 3; step++) {
      const dp = await dataParallelStep(replicas, { ...base, params: dpParams }, { ...optimizer, state: dpState }, { shards: 3 });
      const ref = await single({ ...base, params: refParams, optimizer: { ...optimizer, state: refState } });

      expect(dp.loss).toBeCloseTo(ref.loss!, 12);
      expectSameTensors(dp.gradients, ref.gradients);
      expectSameTensors(dp.params, ref.params!);
      expect(dp.optimizerState.step).toBe(step + 1);
      expect(dp.optimizerState.step).toBe(ref.optimizerState!.step);
      for (const name of Object.keys(ref.optimizerState!.state)) {
        expectSameTensors(dp.optimizerState.state[name] as Record<string, unknown>, ref.optimizerState!.state[name] as Record<string, unknown>);
      }
      // the reference response's tensors were checked finite above (they equal the example's)
      [dpParams, dpState, refParams, refState] = [dp.params, dp.optimizerState, ref.params as Params, ref.optimizerState as OptimizerState];
    }
    // 3 steps × 3 shards over 2 replicas (first replica also served the 3 reference calls)
    expect(calls[0]! - before[0]! - 3 + calls[1]! - before[1]!).toBe(9);
    expect(calls[1]! - before[1]!).toBeGreaterThan(0);
  });

  it('with scale = 1/batch reproduces a mean loss, and clips the summed gradients', async () => {
    const batch = 7;
    const r = rng(5);
    const weight = matrix(3, 4, 6);
    const bias = [0.1, -0.2, 0.3];
    const base: GradientsRequest = {
      model: { type: 'mlp', inputSize: 4, layers: [{ units: 3, activation: 'identity' }] },
      params: { 'layers.0.weight': weight, 'layers.0.bias': bias },
      inputs: matrix(batch, 4, 4, 3),
      targets: Array.from({ length: batch }, () => Math.floor(3 * r())),
      loss: { type: 'cross_entropy', reduction: 'sum' },
      options: { dtype: 'float64', encoding: 'flat' },
    };
    const lr = 0.1;
    const maxNorm = 0.05;
    const optimizer: Optimizer = { type: 'sgd', lr, momentum: 0.9 };
    const dp = await dataParallelStep(replicas, base, optimizer, { scale: 1 / batch, clipGradNorm: maxNorm });
    const ref = await single({ ...base, loss: { type: 'cross_entropy', reduction: 'mean' }, optimizer, clipGradNorm: maxNorm });

    expect(dp.loss).toBeCloseTo(ref.loss!, 12);
    expectSameTensors(dp.gradients, ref.gradients);
    // SGD's first step with momentum is p − lr·g, on g clipped as torch.nn.utils.clip_grad_norm_ does
    const g = [...dp.gradients['layers.0.weight']!.data, ...dp.gradients['layers.0.bias']!.data];
    const norm = Math.hypot(...g);
    expect(norm).toBeGreaterThan(maxNorm);
    const clip = maxNorm / (norm + 1e-6);
    const p0 = [...weight.flat(), ...bias];
    const p1 = [...flat(dp.params['layers.0.weight']).data, ...flat(dp.params['layers.0.bias']).data];
    expectClose(p1, p0.map((p, i) => p - lr * clip * g[i]!), 1e-12);
    expectSameTensors(dp.params, ref.params!);
  });

  it('splits every tensor of a graph\'s inputs map', async () => {
    const base: GradientsRequest = {
      model: {
        type: 'graph',
        inputs: ['x', 't'],
        params: { w: { shape: [2, 1] }, b: { shape: [1] } },
        nodes: [
          { id: 'xw', op: 'matmul', inputs: ['x', 'w'] },
          { id: 'y', op: 'add', inputs: ['xw', 'b'] },
          { id: 'L', op: 'huber_loss', inputs: ['y', 't'], attrs: { reduction: 'sum', delta: 0.5 } },
        ],
        output: 'L',
      },
      params: { w: [[0.3], [-0.2]], b: [0.1] },
      inputs: { x: { shape: [5, 2], data: [1, 2, -1, 0.5, 3, -2, 0, 1, 2, 2] }, t: [[1], [0], [-1], [2], [0.5]] },
      options: { dtype: 'float64' },
    };
    const dp = await dataParallelStep(replicas, base, { type: 'sgd', lr: 0.01 }, { shards: 4 });
    const ref = await single({ ...base, optimizer: { type: 'sgd', lr: 0.01 } });
    expect(dp.loss).toBeCloseTo(ref.loss!, 12);
    expectSameTensors(dp.gradients, ref.gradients);
  });

  it('moves a shard to the next replica when one cannot be reached', async () => {
    // a port that was just free: connections to it are refused
    const closed = await new Promise<string>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const base: GradientsRequest = {
      model: { type: 'mlp', inputSize: 2, layers: [{ units: 1 }], init: { scheme: 'default', seed: 9 } },
      inputs: matrix(6, 2, 7),
      targets: matrix(6, 1, 8),
      loss: { type: 'l1', reduction: 'sum' },
      options: { dtype: 'float64' },
    };
    const dp = await dataParallelStep([closed, replicas[1]!], base, { type: 'sgd', lr: 0.1 });
    const ref = await single({ ...base, optimizer: { type: 'sgd', lr: 0.1 } });
    expectSameTensors(dp.gradients, ref.gradients);
  });

  it('refuses a mean-reduced loss, whose shard gradients do not add up', async () => {
    const request: GradientsRequest = {
      model: { type: 'mlp', inputSize: 1, layers: [{ units: 1 }] },
      inputs: [[1], [2], [3]],
      targets: [[1], [2], [3]],
      loss: { type: 'mse', reduction: 'mean' },
    };
    await expect(dataParallelStep(replicas, request, { type: 'sgd', lr: 0.1 })).rejects.toThrow(/reduction = "sum"/);
  });
});
