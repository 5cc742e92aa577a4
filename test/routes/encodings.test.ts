import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
