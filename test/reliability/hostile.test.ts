import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

// Hostile input through the real app and worker pool, default limits: each is a clear 4xx problem+json
// naming the field, found before anything big is allocated; never a 500, never a dead process.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1 });
});
afterAll(async () => {
  await app?.close();
});

const json = { headers: { 'content-type': 'application/json' } };
const graph = (nodes: unknown[], extra: Record<string, unknown> = {}) => ({
  model: { type: 'graph', inputs: ['x'], nodes, output: nodes.length > 0 ? (nodes[nodes.length - 1] as { id: string }).id : 'L', ...extra },
  inputs: { x: [1, 2] },
});

describe('tensor elements that are not numbers', () => {
  it('an object whose toString is not a function is a 422 at its path, not a TypeError', async () => {
    for (const bad of [{ toString: '' }, { valueOf: 1, toString: null }, { [Symbol.toPrimitive]: 1 }]) {
      const r = await post(app, '/v1/step', { params: { w: [1, bad] }, gradients: { w: [0.5, -0.5] }, optimizer: { type: 'sgd', lr: 0.1 } });
      expectProblem(r, 422, 'INVALID_SPEC');
      expect(r.body.errors[0]).toEqual({ path: 'params.w[1]', message: 'not a finite number: an object' });
    }
    const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: [[1, { toString: '' }]], t: 1 } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].path).toBe('inputs.x[0][1]');
  });
});
