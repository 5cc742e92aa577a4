import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

// Shared pieces of the reliability tests: request bodies of a chosen cost, waiting, percentiles.

/** A training run of `steps` Adam steps on a 16-64-1 tanh MLP: about a millisecond a step. */
export function trainBody(steps: number) {
  return {
    model: { type: 'mlp', inputSize: 16, layers: [{ units: 64, activation: 'tanh' }, { units: 1 }] },
    inputs: Array.from({ length: 64 }, (_, i) => Array.from({ length: 16 }, (_, j) => Math.sin(i + j))),
    targets: Array.from({ length: 64 }, (_, i) => [Math.cos(i)]),
    loss: { type: 'mse' },
    optimizer: { type: 'adam', lr: 0.001 },
    steps,
  };
}

/**
 * A gradient check of a 4-64-64-1 MLP the service initializes: a body and an answer of a few hundred
 * bytes around ~500 forward passes, milliseconds of compute.
 */
export const heavyGradcheck = {
  model: { type: 'mlp', inputSize: 4, layers: [{ units: 64, activation: 'tanh' }, { units: 64, activation: 'tanh' }, { units: 1 }] },
  inputs: [[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, -0.8], [1, 0, -1, 0.5], [0.2, 0.2, -0.3, 0.9]],
  targets: [[1], [0], [1], [0]],
  loss: { type: 'mse' },
  gradcheck: { maxElementsPerParam: 48 },
};

/**
 * A 7 × 7 convolution of `n` samples of 128 × side × side by 128 filters (at n = 8, side = 64:
 * 26·10^9 multiply-adds), its input and weights made by broadcasting from a body of a few kilobytes.
 */
export function convBody(n: number, side = 64) {
  const values = (k: number, seed: number) => Array.from({ length: k }, (_, i) => Math.sin(i * seed) / 8);
  return {
    model: {
      type: 'graph',
      inputs: ['p', 'q', 'u', 'v'],
      nodes: [
        { id: 'x', op: 'mul', inputs: ['p', 'q'] },
        { id: 'w', op: 'mul', inputs: ['u', 'v'] },
        { id: 'y', op: 'conv2d', inputs: ['x', 'w'], attrs: { padding: 3 } },
        { id: 'L', op: 'sum', inputs: ['y'] },
      ],
      output: 'L',
    },
    inputs: {
      p: { shape: [n, 128, 1, 1], data: values(n * 128, 1) },
      q: { shape: [1, 1, side, side], data: values(side * side, 2) },
      u: { shape: [128, 1, 1, 1], data: values(128, 3) },
      v: { shape: [1, 128, 7, 7], data: values(6272, 4) },
    },
    options: { dtype: 'float32' },
  };
}

/** Parts of convolutions handed to a worker's helper thread on a second core so far (engine/split.ts), in /metrics' text. */
export const secondCorePartsIn = (metrics: string): number => Number(/^gradserve_second_core_parts_total (\d+)/m.exec(metrics)?.[1]);

export const secondCoreParts = async (app: FastifyInstance): Promise<number> =>
  secondCorePartsIn((await app.inject({ method: 'GET', url: '/metrics' })).body);

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const median = (xs: number[]) => percentile(xs, 50);

/** FLOP_BUDGET for tests of TIMEOUT_MS: work that cannot finish runs into the time limit instead of being refused */
export const NO_BUDGET = Number.MAX_VALUE;
