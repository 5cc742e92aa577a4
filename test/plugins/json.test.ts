import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../../src/engine/wire.js';
import { jsonBuffer, parseJsonText } from '../../src/plugins/json.js';
import { startApp, twoWeight } from '../routes/helpers.js';

// The JSON body parser and the response writer must agree with JSON.parse / JSON.stringify on every
// value, reject what secure-json-parse (Fastify's default) rejects, and be what the app uses.

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

describe('parseJsonText', () => {
  it('gives JSON.parse\'s value for any JSON text', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => !poisoned(v)), (v) => {
        const text = JSON.stringify(v);
        expect(parseJsonText(text)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('skips a byte-order mark', () => {
    expect(parseJsonText('\uFEFF{"a": 1}')).toEqual({ a: 1 });
  });

  it('answers Fastify\'s errors for an empty or malformed body', () => {
    expect(() => parseJsonText('')).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }));
    for (const bad of ['{"model": ', 'nan', '{"a": 1,}', '\u00ff']) {
      expect(() => parseJsonText(bad)).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }));
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
      expect(() => parseJsonText(p), p).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' }));
    }
    // a "constructor" that is not an object with a prototype is ordinary data (a node may be called that)
    expect(parseJsonText('{"constructor": "x", "c": {"constructor": {"y": 1}}}')).toEqual({ constructor: 'x', c: { constructor: { y: 1 } } });
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

/** POSTs `body` as UTF-8 in two writes 50 ms apart, cut at byte `cut`, so the server reads it in two chunks. */
function postInTwoParts(port: number, body: string, cut: number): Promise<{ status: number; json: any }> {
  const bytes = Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/gradients', headers: { 'content-type': 'application/json', 'content-length': bytes.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.once('error', reject);
    req.write(bytes.subarray(0, cut));
    setTimeout(() => req.end(bytes.subarray(cut)), 50);
  });
}

describe('in the app', () => {
  it('decodes a UTF-8 body whose characters are cut between the chunks it arrives in', async () => {
    const app = await startApp({ validateResponses: false });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      // identifiers are ASCII, so the answer names the non-ASCII key back: as sent, or as two U+FFFD
      // had each chunk been decoded on its own
      const body = JSON.stringify({ ...twoWeight, params: { 'wλ': 0.5, w1: 0.5, w2: -1.5 } });
      const cut = Buffer.from(body, 'utf8').indexOf(Buffer.from('λ', 'utf8')) + 1;
      const r = await postInTwoParts(port, body, cut);
      expect(r.status, JSON.stringify(r.json)).toBe(422);
      expect(r.json.errors).toEqual([{ path: 'params.wλ', message: 'the model has no parameter "wλ" (its parameters: w1, w2)' }]);
    } finally {
      await app.close();
    }
  });

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
