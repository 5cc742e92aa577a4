import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, SAFETENSORS } from '../wire/safetensors-helpers.js';
import { post, startApp } from './helpers.js';

// Property: a tensor means the same numbers in every encoding, in requests and in responses.
// With L = sum(w · x), dL/dw = x exactly, so the gradient echoes the input back through the engine.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.close();
});

type Enc = 'nested' | 'flat' | 'base64';

function nest(data: number[], shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  const [n, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n! }, (_, i) => nest(data.slice(i * step, (i + 1) * step), rest));
}

function encode(data: number[], shape: number[], enc: Enc): unknown {
  if (enc === 'nested') return nest(data, shape);
  if (enc === 'flat') return { shape, data };
  return { shape, dtype: 'float64', base64: Buffer.from(new Float64Array(data).buffer).toString('base64') };
}

function decode(wire: any, enc: Enc): number[] {
  if (enc === 'nested') return [wire].flat(Infinity) as number[];
  if (enc === 'flat') return wire.data;
  return Array.from(new Float64Array(new Uint8Array(Buffer.from(wire.base64, 'base64')).buffer));
}

const tensor = fc
  .array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      data: fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), {
        minLength: shape.reduce((a, b) => a * b, 1),
        maxLength: shape.reduce((a, b) => a * b, 1),
      }),
    }),
  );
const encoding = fc.constantFrom<Enc>('nested', 'flat', 'base64');

describe('tensor encodings', () => {
  it('round-trip the same float64 numbers in every combination of request and response encoding', async () => {
    await fc.assert(
      fc.asyncProperty(tensor, encoding, encoding, async ({ shape, data }, inEnc, outEnc) => {
        const r = await post(app, '/v1/gradients', {
          model: {
            type: 'graph',
            inputs: ['x'],
            params: { w: { shape } },
            nodes: [
              { id: 'p', op: 'mul', inputs: ['w', 'x'] },
              { id: 'L', op: 'sum', inputs: ['p'] },
            ],
            output: 'L',
          },
          params: { w: encode(data.map(() => 1), shape, inEnc) },
          inputs: { x: encode(data, shape, inEnc) },
          options: { dtype: 'float64', encoding: outEnc },
        });
        expect(r.status).toBe(200);
        const g = r.body.gradients.w;
        if (outEnc !== 'nested') expect(g.shape).toEqual(shape);
        // −0 and 0 are the same number to JSON
        expect(decode(g, outEnc).map((v) => v + 0)).toEqual(data.map((v) => v + 0));
      }),
      { numRuns: 40 },
    );
  });
});

describe('float32 answers in JSON', () => {
  // dL/dw = x: the answer echoes x, rounded to float32, as the shortest decimals that read back as it
  const x = [0.1, 0.4, 1 / 3, 1e-45, -0, 16777217, -2.5e-8, 1e21];
  const float32Texts = '0.1,0.4,0.33333334,1e-45,0,16777216,-2.5e-8,1e+21';
  const float64Texts = '0.1,0.4,0.3333333333333333,1e-45,0,16777217,-2.5e-8,1e+21';
  const body = (n: number, dtype: string, encoding: string) => ({
    model: {
      type: 'graph',
      inputs: ['x'],
      params: { w: { shape: [n] } },
      nodes: [
        { id: 'p', op: 'mul', inputs: ['w', 'x'] },
        { id: 'L', op: 'sum', inputs: ['p'] },
      ],
      output: 'L',
    },
    params: { w: Array.from({ length: n }, () => 1) },
    inputs: { x: Array.from({ length: n }, (_, i) => x[i % x.length]) },
    options: { dtype, encoding },
  });
  // 8 elements are written by JSON.stringify, 800 (over 4 KiB of text) by the answer's buffer writer
  const cases = [8, 800].map((n) => [n, Array.from({ length: n / 8 }, () => float32Texts).join(',')] as const);

  for (const validateResponses of [true, false]) {
    it(`prints each float32 as its shortest decimal, nested and flat; float64 as JavaScript does (validateResponses: ${validateResponses})`, async () => {
      const a = validateResponses ? app : await startApp({ validateResponses: false });
      try {
        for (const [n, texts] of cases) {
          const nested = await post(a, '/v1/gradients', body(n, 'float32', 'nested'));
          expect(nested.status).toBe(200);
          expect(nested.raw).toContain(`"gradients":{"w":[${texts}]}`);
          const flat = await post(a, '/v1/gradients', body(n, 'float32', 'flat'));
          expect(flat.raw).toContain(`"gradients":{"w":{"shape":[${n}],"data":[${texts}]}}`);
          expect(flat.body.gradients.w.data.map(Math.fround)).toEqual(Array.from({ length: n }, (_, i) => Math.fround(x[i % x.length]!) + 0));
        }
        const f64 = await post(a, '/v1/gradients', body(8, 'float64', 'nested'));
        expect(f64.raw).toContain(`"gradients":{"w":[${float64Texts}]}`);
      } finally {
        if (a !== app) await a.close();
      }
    });
  }
});

describe('float32 losses in JSON', () => {
  // L = w · x at w = 1, x = 1/3: the loss is x rounded to the dtype
  const body = (dtype: string) => ({
    model: { type: 'graph', inputs: ['x'], params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: ['w', 'x'] }], output: 'L' },
    params: { w: 1 },
    inputs: { x: 1 / 3 },
    options: { dtype },
  });
  const text = { float32: '0.33333334', float64: '0.3333333333333333' };

  for (const dtype of ['float32', 'float64'] as const) {
    it(`prints a ${dtype} loss as the shortest decimal of its dtype on every route that answers one, safetensors metadata included`, async () => {
      const loss = `"loss":${text[dtype]}`;
      for (const url of ['/v1/gradients', '/v1/forward']) {
        const r = await post(app, url, body(dtype));
        expect(r.status, r.raw).toBe(200);
        expect(r.raw, url).toContain(loss);
      }
      const binary = await app.inject({ method: 'POST', url: '/v1/gradients', payload: body(dtype), headers: { accept: SAFETENSORS } });
      expect(readFile(binary.rawPayload).meta.json).toContain(loss);
      const train = { ...body(dtype), steps: 2, optimizer: { type: 'sgd', lr: 0 } };
      const lines = await app.inject({ method: 'POST', url: '/v1/train', payload: train, headers: { accept: 'application/x-ndjson' } });
      expect(lines.statusCode).toBe(200);
      const steps = lines.body.split('\n').filter((l) => l.startsWith('{"step":'));
      expect(steps.length === 2 && steps.every((l) => l.includes(loss)), JSON.stringify(lines.body)).toBe(true);
      expect((await post(app, '/v1/train', train)).raw).toContain(`"losses":[${text[dtype]},${text[dtype]}]`);
    });
  }
});
