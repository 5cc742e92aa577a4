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
