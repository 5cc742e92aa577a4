import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../routes/helpers.js';
import { INVALID_KINDS, type Case } from './fuzz/invalid.js';
import { allPaths, deleteAt, getAt, setAt } from './fuzz/json-path.js';
import { ROUTE_FIELDS, SEEDS, clone } from './fuzz/seeds.js';
import { check, problemFault, send } from './fuzz/send.js';

// Property-based fuzzing of every compute route through app.inject and the real worker pool:
// requests made invalid by one targeted mutation must get the expected 4xx problem+json naming the
// mutated field; arbitrary mutations must never get anything but 200 or a 4xx problem+json.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1, timeoutMs: 10_000 });
});
afterAll(async () => {
  await app?.close();
});

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);

describe('targeted invalid requests: 4xx problem+json naming the field', () => {
  for (const [name, arb] of Object.entries(INVALID_KINDS)) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(arb as fc.Arbitrary<Case>, async (c) => {
          check(c, await send(app, c.url, c.body, c.rawReplace));
        }),
        { numRuns: RUNS },
      );
    });
  }
});

/** Any JSON value at any path, a deleted path, or an added key: the service must stay in its contract. */
const anyMutation = fc
  .record({
    s: fc.nat(),
    p: fc.nat(),
    op: fc.constantFrom('replace', 'delete', 'add'),
    key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('constructor', 'prototype', 'toString')),
    value: fc.jsonValue({ maxDepth: 3 }),
  })
  .map(({ s, p, op, key, value }) => {
    const seed = SEEDS[s % SEEDS.length]!;
    const body = clone(seed.body);
    const paths = allPaths(body);
    const path = paths[p % paths.length]!;
    if (op === 'replace') setAt(body, path, value);
    else if (op === 'delete') deleteAt(body, path);
    else {
      const v = getAt(body, path);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) setAt(body, [...path, key], value);
      else setAt(body, path, { [key]: value });
    }
    return { url: seed.url, body };
  });

describe('arbitrary mutations', () => {
  it('answer 200 or a 4xx problem+json whose errors name fields of the request', async () => {
    await fc.assert(
      fc.asyncProperty(anyMutation, async ({ url, body }) => {
        const a = await send(app, url, body);
        const where = `${a.status} ${JSON.stringify(a.body).slice(0, 400)}\nbody ${JSON.stringify(body).slice(0, 1000)}`;
        expect([200, 400, 413, 422], where).toContain(a.status);
        if (a.status === 200) return;
        expect(problemFault(a), where).toBeNull();
        if (a.body.code === 'INVALID_JSON') return;
        expect(a.body.errors?.length, where).toBeGreaterThan(0);
        const known = new Set([...ROUTE_FIELDS[url]!, ...Object.keys(body as object)]);
        for (const e of a.body.errors) expect(known.has(e.path.split(/[.[]/)[0]), `${e.path}: ${where}`).toBe(true);
      }),
      { numRuns: RUNS * 6 },
    );
  });
});
