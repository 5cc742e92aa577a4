import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';
import { send } from './fuzz/send.js';
import { randomGraph, randomMlp, type FlatTensor, type ValidCase } from './fuzz/valid.js';

// Random valid graphs and MLPs through app.inject and the real worker pool: each gets a 200 whose
// gradients agree with central finite differences computed here, over HTTP, from /v1/forward losses
// (float64), and /v1/gradcheck agrees that they pass.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1, timeoutMs: 10_000 });
});
afterAll(async () => {
  await app?.close();
});

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const H = 1e-5;
const ATOL = 1e-6;
const RTOL = 1e-4;

async function lossAt(body: Record<string, unknown>, params: Record<string, FlatTensor>): Promise<number> {
  const a = await send(app, '/v1/forward', { ...body, params });
  if (a.status !== 200) throw new Error(`forward ${a.status}: ${JSON.stringify(a.body)}`);
  return a.body.loss ?? a.body.outputs.data[0];
}

async function checkCase({ body, params: given }: ValidCase, pickSeed: number): Promise<void> {
  const g = await send(app, '/v1/gradients', given ? { ...body, params: given } : body);
  const where = `body ${JSON.stringify(given ? { ...body, params: given } : body)}\nanswer ${JSON.stringify(g.body).slice(0, 800)}`;
  expect(g.status, where).toBe(200);
  expect(Number.isFinite(g.body.loss), where).toBe(true);
  // the service returns the parameters it initialized; with them every parameter is explicit
  const params: Record<string, FlatTensor> = { ...(given ?? {}), ...(g.body.params ?? {}) };
  expect(Object.keys(g.body.gradients).sort(), where).toEqual(Object.keys(params).sort());

  for (const [name, p] of Object.entries(params)) {
    const grad: FlatTensor = g.body.gradients[name];
    expect(grad.shape, where).toEqual(p.shape);
    // two elements per parameter (all when fewer), chosen by the case's seed
    const n = p.data.length;
    const picks = n <= 2 ? [...Array(n).keys()] : [pickSeed % n, (pickSeed * 31 + 7) % n];
    for (const i of new Set(picks)) {
      const at = (d: number) => ({ ...params, [name]: { shape: p.shape, data: p.data.map((v, k) => (k === i ? v + d : v)) } });
      const numericAt = async (h: number) => ((await lossAt(body, at(h))) - (await lossAt(body, at(-h)))) / (2 * h);
      const analytic = grad.data[i]!;
      const agrees = (numeric: number) => Math.abs(analytic - numeric) <= ATOL + RTOL * Math.abs(numeric);
      let numeric = await numericAt(H);
      // Where the loss curves sharply (a layernorm over two nearly equal values), the difference's own
      // error, O(h²), can pass the tolerance: a tenth of the step cuts it 100×, and in float64 the
      // rounding error it adds stays far below the tolerance. A wrong gradient disagrees at both.
      if (!agrees(numeric)) numeric = await numericAt(H / 10);
      expect(agrees(numeric), `${name}[${i}]: backprop ${analytic}, finite differences ${numeric}\n${where}`).toBe(true);
    }
  }

  const gc = await send(app, '/v1/gradcheck', { ...body, params });
  expect(gc.status, where).toBe(200);
  expect(gc.body.passed, `${JSON.stringify(gc.body)}\n${where}`).toBe(true);
}

describe('random valid requests: 200 with gradients that pass a finite-difference check', () => {
  it('graphs of smooth ops, nodes in any order', async () => {
    await fc.assert(fc.asyncProperty(randomGraph, fc.nat(), checkCase), { numRuns: RUNS });
  });

  it('MLPs with service-initialized parameters', async () => {
    await fc.assert(fc.asyncProperty(randomMlp, fc.nat(), checkCase), { numRuns: RUNS });
  });
});
