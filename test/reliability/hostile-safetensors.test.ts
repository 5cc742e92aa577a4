import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';
import { SAFETENSORS, safetensors } from '../wire/safetensors-helpers.js';

// Random corruptions of a valid safetensors body through the real app and worker pool: whatever the
// bytes, the answer is a 200 or a 4xx problem+json, never a 5xx, and the worker survives.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1 });
});
afterAll(async () => {
  await app?.close();
});

const model = {
  type: 'graph',
  inputs: ['x', 't'],
  params: { w: { shape: [2, 3] } },
  nodes: [
    { id: 'y', op: 'matmul', inputs: ['x', 'w'] },
    { id: 'L', op: 'mse_loss', inputs: ['y', 't'] },
  ],
  output: 'L',
};
const valid = safetensors(
  {
    'inputs/x': { dtype: 'F32', shape: [4, 2], values: [1, 2, 3, 4, 5, 6, 7, 8] },
    'inputs/t': { dtype: 'F32', shape: [4, 3], values: Array.from({ length: 12 }, (_, i) => i / 10) },
    'params/w': { dtype: 'F64', shape: [2, 3], values: [0.1, -0.2, 0.3, -0.4, 0.5, -0.6] },
  },
  { model, optimizer: { type: 'adam', lr: 0.01 }, options: { returnOutputs: true } },
);
const headerEnd = 8 + Number(valid.readBigUInt64LE(0));

async function expectHandled(body: Buffer, accept = SAFETENSORS): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/v1/gradients', payload: body, headers: { 'content-type': SAFETENSORS, accept } });
  if (res.statusCode >= 500 || (res.statusCode >= 300 && !String(res.headers['content-type']).startsWith('application/problem+json'))) {
    throw new Error(`${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  if (res.statusCode >= 400) expect(JSON.parse(res.body).code).toMatch(/^[A-Z_]+$/);
  return res.statusCode;
}

describe('corrupted safetensors bodies', () => {
  it('the valid body computes', async () => {
    expect(await expectHandled(valid)).toBe(200);
  });

  it('any byte of the header or the data replaced: 200 or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (i, byte, inHeader) => {
        const body = Buffer.from(valid);
        body[inHeader ? i % headerEnd : i] = byte;
        await expectHandled(body);
      }),
      { numRuns: 300 },
    );
  });

  it('truncated, extended, or with bytes spliced in: 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.boolean(), async (at, extra, cut) => {
        const body = cut ? valid.subarray(0, at % valid.length) : Buffer.concat([valid.subarray(0, at), extra, valid.subarray(at)]);
        expect(await expectHandled(Buffer.from(body))).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 150 },
    );
  });

  it('any header length: 4xx unless it is the true one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2000n })), async (n) => {
        const body = Buffer.from(valid);
        body.writeBigUInt64LE(n);
        const status = await expectHandled(body);
        if (n !== BigInt(headerEnd - 8)) expect(status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 100 },
    );
  });

  it('a header entry rewritten at random (dtype, shape, offsets): 200 or 4xx', async () => {
    const entry = fc.record({
      dtype: fc.constantFrom('F32', 'F64', 'I64', 'I32', 'F16', 'BF16', 'U8', 'f32', ''),
      shape: fc.array(fc.oneof(fc.nat(10), fc.constant(-1), fc.constant(2 ** 53), fc.double()), { maxLength: 9 }),
      data_offsets: fc.array(fc.oneof(fc.nat(200), fc.constant(-1), fc.double()), { maxLength: 3 }),
    });
    const name = fc.constantFrom('inputs/x', 'inputs/t', 'params/w', 'params/v', 'targets', 'inputs', '__metadata__', 'x');
    await fc.assert(
      fc.asyncProperty(name, entry, async (n, e) => {
        const header = JSON.parse(valid.toString('utf8', 8, headerEnd));
        header[n] = e;
        const text = Buffer.from(JSON.stringify(header));
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(text.length));
        await expectHandled(Buffer.concat([len, text, valid.subarray(headerEnd)]));
      }),
      { numRuns: 150 },
    );
  });

  it('the worker is still there after all of it', async () => {
    expect(await expectHandled(valid, 'application/json')).toBe(200);
  });
});
