import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../../src/engine/wire.js';
import { jsonBuffer, parseJsonBody } from '../../src/plugins/json.js';
import { startApp, twoWeight } from '../routes/helpers.js';

// The JSON body parser and the response writer must agree with JSON.parse / JSON.stringify on every
// value, reject what secure-json-parse (Fastify's default) rejects, and be what the app uses.

const bytes = (s: string) => Buffer.from(s, 'utf8');

/**
 * secure-json-parse's rule, written out: an own `__proto__` key, or a `constructor` object with a
 * `prototype` key, anywhere. fc.jsonValue draws such values now and then; they are refused (tested below).
 */
const poisoned = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some(poisoned);
  const o = v as Record<string, unknown>;
  const ctor = Object.hasOwn(o, 'constructor') ? o.constructor : undefined;
  if (Object.hasOwn(o, '__proto__') || (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype'))) return true;
  return Object.values(o).some(poisoned);
};

describe('parseJsonBody', () => {
  it('gives JSON.parse\'s value for any JSON text, ASCII or not', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => !poisoned(v)), (v) => {
        const text = JSON.stringify(v);
        expect(parseJsonBody(bytes(text))).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
    expect(parseJsonBody(bytes('{"nœud": "λ→∂", "w": [1, 2.5e-3]}'))).toEqual({ nœud: 'λ→∂', w: [1, 2.5e-3] });
  });

  it('skips a byte-order mark', () => {
    expect(parseJsonBody(bytes('\uFEFF{"a": 1}'))).toEqual({ a: 1 });
  });

  it('answers Fastify\'s errors for an empty or malformed body', () => {
    expect(() => parseJsonBody(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }));
    for (const bad of ['{"model": ', 'nan', '{"a": 1,}', '\u00ff']) {
      expect(() => parseJsonBody(bytes(bad))).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }));
    }
  });

  it('rejects prototype poisoning at any depth, escaped or not, as secure-json-parse does', () => {
    const poisoned = [
      '{"__proto__": {"x": 1}}',
      '{"a": [1, {"b": {"__proto__": null}}]}',
      '{"\\u005f_proto__": {}}',
      '{"constructor": {"prototype": {"x": 1}}}',
      '[{"p": {"constructor": {"prototype": 1}}}]',
    ];
    for (const p of poisoned) {
      expect(() => parseJsonBody(bytes(p)), p).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' }));
    }
    // a "constructor" that is not an object with a prototype is ordinary data (a node may be called that)
    expect(parseJsonBody(bytes('{"constructor": "x", "c": {"constructor": {"y": 1}}}'))).toEqual({ constructor: 'x', c: { constructor: { y: 1 } } });
  });
});

describe('jsonBuffer', () => {
  it('writes exactly JSON.stringify\'s bytes for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonBuffer(v).toString('utf8')).toBe(JSON.stringify(v));
      }),
      { numRuns: 500 },
    );
  });

  it('writes responses with base64 tensors, NaN, undefined fields and non-ASCII names as JSON.stringify does', () => {
    const t = (n: number) => encodeTensor({ shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.sin(i)) }, 'base64');
    const response = {
      loss: 0.25,
      gradients: { 'layers.0.weight': t(1000), 'poids→λ': t(3), empty: t(0) },
      outputs: [[1, Number.NaN], [Number.POSITIVE_INFINITY, -0]],
      skipped: undefined,
      diagnostics: { globalGradNorm: Number.NaN, warnings: [{ code: 'non_finite', params: { params: ['w'] } }] },
      timing: { queueMs: 0.1, totalMs: 2 },
    };
    expect(jsonBuffer(response).toString('utf8')).toBe(JSON.stringify(response));
  });
});

describe('in the app', () => {
  it('the production configuration (no response validation) answers and rejects through them', async () => {
    const app = await startApp({ validateResponses: false });
    try {
      const r = await app.inject({ method: 'POST', url: '/v1/gradients', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(twoWeight) });
      expect(r.statusCode).toBe(200);
      expect(r.json().gradients).toEqual({ w1: 15, w2: -5 });
      const poisoned = await app.inject({ method: 'POST', url: '/v1/gradients', headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"x": 1}}' });
      expect(poisoned.statusCode).toBe(400);
      expect(poisoned.json().code).toBe('INVALID_JSON');
    } finally {
      await app.close();
    }
  });
});
