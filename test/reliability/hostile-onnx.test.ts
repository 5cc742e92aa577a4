import { readFileSync, readdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';

// Random corruptions of the ONNX files torch exported (test/fixtures/onnx) through the real app and
// worker pool: whatever the bytes, registering them answers 200/201 or a 4xx problem+json, never a
// 5xx; a corrupted file that still registers computes the fixture's request, or refuses it with a 4xx.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1 });
});
afterAll(async () => {
  await app?.close();
});

const dir = new URL('../fixtures/onnx/', import.meta.url);
interface Fixture {
  model: string;
  inputs: unknown;
  targets: unknown;
  loss: unknown;
}
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => {
    const fixture = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture;
    return { ...fixture, file: readFileSync(new URL(fixture.model, dir)) };
  });

async function expectHandled(url: string, payload: object): Promise<{ status: number; body: { id?: string; code?: string } }> {
  const res = await app.inject({ method: 'POST', url, payload });
  const type = String(res.headers['content-type']);
  if (res.statusCode >= 500 || (res.statusCode >= 300 && !type.startsWith('application/problem+json'))) {
    throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  const body = JSON.parse(res.body) as { id?: string; code?: string };
  if (res.statusCode >= 400) expect(body.code).toMatch(/^[A-Z_]+$/);
  return { status: res.statusCode, body };
}

/** Edits of a file: bytes set at random places, to anything or to the values that end protobuf varints and lengths. */
const edits = fc.array(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff))), {
  minLength: 1,
  maxLength: 4,
});

describe('corrupted ONNX files', () => {
  it('every fixture registers and computes uncorrupted', async () => {
    for (const f of fixtures) {
      const reg = await expectHandled('/v1/models', { type: 'onnx', bytes: f.file.toString('base64') });
      expect([200, 201], f.model).toContain(reg.status);
      const res = await expectHandled('/v1/gradients', { model: { ref: reg.body.id }, inputs: f.inputs, targets: f.targets, loss: f.loss });
      expect(res.status, f.model).toBe(200);
    }
  });

  it('bytes replaced anywhere: registered or a 4xx, and what registers computes or answers a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(fixtures.length - 1), edits, async (which, changes) => {
        const f = fixtures[which]!;
        const bytes = Buffer.from(f.file);
        for (const [at, value] of changes) bytes[Math.floor(at * bytes.length)] = value;
        const reg = await expectHandled('/v1/models', { type: 'onnx', bytes: bytes.toString('base64') });
        if (reg.status < 300) await expectHandled('/v1/gradients', { model: { ref: reg.body.id }, inputs: f.inputs, targets: f.targets, loss: f.loss });
      }),
      { numRuns: 400 },
    );
  });
});
