import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS } from '../../src/engine/ops/index.js';
import { startApp } from './helpers.js';

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

describe('GET /v1/ops', () => {
  it('lists every registered op with arity, derivative and attrs as JSON Schema', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/ops' });
    expect(r.statusCode).toBe(200);
    const { ops } = r.json() as { ops: { name: string; minArity: number; maxArity: number; derivative: string; attrs: any }[] };
    expect(ops.map((o) => o.name)).toEqual([...OPS.keys()].sort((a, b) => a.localeCompare(b)));
    const mul = ops.find((o) => o.name === 'mul')!;
    expect([mul.minArity, mul.maxArity]).toEqual([2, 2]);
    expect(mul.derivative.length).toBeGreaterThan(0);
    const softmax = ops.find((o) => o.name === 'softmax')!;
    expect(softmax.attrs.type).toBe('object');
    expect(softmax.attrs.properties).toHaveProperty('axis');
    const linear = ops.find((o) => o.name === 'linear')!;
    expect(linear.maxArity).toBeGreaterThan(linear.minArity);
  });
});
