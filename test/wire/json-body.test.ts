import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { decodeBase64Text, DecodedBase64, encodeTensor } from '../../src/wire/tensor.js';
import { jsonBody, jsonBuffer, parseJsonBody, restoreLifted } from '../../src/wire/json-body.js';
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

/**
 * parseJsonBody on the text's UTF-8 bytes with its lifted values put back (restoreLifted), written as
 * JSON.parse would give the text: each decoded value is replaced by the string at its place in
 * JSON.parse's value when that string decodes to the same bytes and validity (so a value lifted or
 * decoded wrongly stays an object, and toStrictEqual shows it).
 */
function parseJsonText(text: string, minLift?: number): unknown {
  const { value, lifted } = parseJsonBody(Buffer.from(text, 'utf8'), minLift);
  if (lifted === null) return value;
  restoreLifted(value, lifted);
  const asText = (got: unknown, want: unknown): unknown => {
    if (got instanceof DecodedBase64) {
      return typeof want === 'string' && sameDecoding(got, decodeBase64Text(Buffer.from(want, 'utf8'))) ? want : got;
    }
    if (typeof got !== 'object' || got === null || typeof want !== 'object' || want === null) return got;
    const o = got as Record<string, unknown>;
    for (const k in o) o[k] = asText(o[k], (want as Record<string, unknown>)[k]);
    return got;
  };
  return asText(value, JSON.parse(text));
}

const sameDecoding = (a: DecodedBase64, b: DecodedBase64): boolean =>
  a.valid === b.valid && a.byteLength === b.byteLength && Buffer.from(a.take()).equals(Buffer.from(b.take()));

describe('parseJsonBody', () => {
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

describe('parseJsonText: long base64 strings lifted out before JSON.parse', () => {
  const b64 = fc.string({ unit: fc.constantFrom(...'ABCxyz019+/='.split('')), maxLength: 24 });
  const tensor = fc.record({ shape: fc.array(fc.nat(3), { maxLength: 2 }), dtype: fc.constantFrom('float32', 'float64'), base64: b64 });
  // strings that look like the key, its value or its escapes, as values and as keys
  // (a key ending in `"base64` is written `"x\\"base64"`: the text's `"base64"` there starts with an escaped quote)
  const tricky = fc.constantFrom('"base64":"', '"base64": "AAAAAAAA"', '\\"base64\\":\\"', 'base64', 'x"base64', 'x\\', '"', 'AAAA\\AAAA');
  const value = fc.oneof(tensor, tricky, b64, fc.jsonValue({ maxDepth: 2 }), fc.record({ base64: fc.oneof(fc.integer(), fc.constant(null), tricky, b64) }));
  const doc = fc.dictionary(fc.oneof(fc.constantFrom('params', 'base64', 'x'), tricky), fc.oneof(value, fc.dictionary(fc.string({ maxLength: 3 }), value, { maxKeys: 3 })), { maxKeys: 4 });
  // as JSON.stringify writes it, indented, and with Python's json.dumps separators (", " and ": ")
  const written = fc.tuple(doc.filter((v) => !poisoned(v)), fc.constantFrom(0, 1, 2)).map(([v, style]) =>
    style === 0 ? JSON.stringify(v) : style === 1 ? JSON.stringify(v, null, 2) : JSON.stringify(v, null, 1).replace(/\n */g, ' '),
  );

  it('gives JSON.parse\'s value for any text, lifting every base64 string of 8 characters or more', () => {
    fc.assert(
      fc.property(written, (text) => {
        expect(parseJsonText(text, 8)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what JSON.parse rejects: any text with one character deleted or inserted', () => {
    fc.assert(
      fc.property(written, fc.nat(), fc.constantFrom('', '"', '\\', ':', ',', '{', '}', '[', ']', 'A', ' '), (text, at, insert) => {
        const i = at % (text.length + 1);
        const bad = insert === '' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + insert + text.slice(i);
        let expected: unknown;
        try {
          expected = JSON.parse(bad);
        } catch {
          expect(() => parseJsonText(bad, 8)).toThrow(expect.objectContaining({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' }));
          return;
        }
        if (!poisoned(expected)) expect(parseJsonText(bad, 8)).toStrictEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('hands JSON.parse only the rest of a large body', () => {
    const tensorOf = (n: number) => encodeTensor({ shape: [n], data: Float32Array.from({ length: n }, (_, i) => i / 7) }, 'base64');
    const body = JSON.stringify({ ...twoWeight, inputs: { x: tensorOf(20_000), t: tensorOf(20_000) } });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(parseJsonText(body)).toStrictEqual(JSON.parse(body));
      expect(parse.mock.calls[0]![0].length).toBeLessThan(1000);
    } finally {
      parse.mockRestore();
    }
  });
});

describe('parseJsonBody: a known model spec the body opens with', () => {
  // texts of models and rests with the characters that could mislead a scan for the model's end
  const tricky = fc.string({ unit: fc.constantFrom(...'{}[]"\\:,model u'.split('')), maxLength: 8 });
  const spec = fc.dictionary(fc.oneof(fc.constantFrom('type', 'nodes', 'model'), tricky), fc.oneof(fc.jsonValue({ maxDepth: 2 }), tricky), { maxKeys: 4 });
  const rest = fc.dictionary(fc.oneof(fc.constantFrom('params', 'inputs', 'model'), tricky), fc.oneof(fc.jsonValue({ maxDepth: 2 }), tricky), { maxKeys: 3 });
  // as JSON.stringify writes it, and as Python's json.dumps does (", " and ": ")
  const write = (v: unknown, spaced: boolean) => (spaced ? JSON.stringify(v, null, 1).replace(/\n */g, (m, at, all) => (all[at - 1] === ',' || all[at - 1] === ':' ? ' ' : '')) : JSON.stringify(v));
  const known = { known: true };

  it('puts the known model in place of its text, and is JSON.parse otherwise', () => {
    fc.assert(
      fc.property(spec, rest.filter((r) => !poisoned(r)), fc.boolean(), fc.boolean(), fc.boolean(), (m, r, spaced, isKnown, junk) => {
        if (poisoned(m)) return;
        const modelText = write(m, spaced);
        const restText = write(r, spaced).slice(1);
        let text = `{"model":${spaced ? ' ' : ''}${modelText}${restText === '}' ? '}' : `,${spaced ? ' ' : ''}${restText}`}`;
        // a syntax error after the model, now and then
        if (junk) text = text.slice(0, -1);
        const seen: string[] = [];
        const lookup = (t: string) => (seen.push(t), isKnown && t === modelText ? known : undefined);
        let expected: unknown;
        try {
          expected = JSON.parse(text);
        } catch (e) {
          expect(() => parseJsonBody(Buffer.from(text), undefined, lookup)).toThrow((e as Error).message);
          return;
        }
        const got = parseJsonBody(Buffer.from(text), undefined, lookup);
        // only when the body's own "model" is the leading one (no second key names one) is it looked up
        const leading = JSON.stringify((expected as { model: unknown }).model) === JSON.stringify(m) && !Object.keys(r).includes('model');
        if (isKnown && leading && seen.includes(modelText)) expect(got.value).toStrictEqual({ ...(expected as object), model: known });
        else expect(got.value).toStrictEqual(expected);
        // a model text handed back (to know the model by) is that of the model JSON.parse kept
        if (got.modelText !== undefined) expect(JSON.parse(got.modelText)).toStrictEqual((expected as { model: unknown }).model);
      }),
      { numRuns: 1000 },
    );
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

describe('jsonBody', () => {
  const t = (n: number) => encodeTensor({ shape: [n], data: Float32Array.from({ length: n }, (_, i) => Math.cos(i)) }, 'base64');

  it('is JSON.stringify\'s text for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonBody(v)).toBe(`${JSON.stringify(v)}\n`);
      }),
      { numRuns: 300 },
    );
  });

  it('is jsonBuffer\'s bytes when a base64 string of 4,096 characters or more is anywhere in it, text otherwise', () => {
    // 3,072 float32 = 12,288 bytes = 16,384 base64 characters; 768 = 4,096 characters; 767 = 4,092
    const holding = [
      { gradients: { w: t(3072) } },
      { a: { b: { c: t(768) } } },
      { warnings: [{ x: 1 }, { params: { t: t(768) } }] },
      { outputs: [[1, 2]], intermediates: { h: { value: t(768), grad: null } } },
    ];
    for (const v of holding) {
      const body = jsonBody(v);
      expect(Buffer.isBuffer(body)).toBe(true);
      expect(body.toString()).toBe(`${JSON.stringify(v)}\n`);
    }
    for (const v of [{ gradients: { w: t(767) } }, { data: [[{ base64: 'x'.repeat(5000) }]] }, [1, { base64: 7 }], { base64: 'x'.repeat(100) }]) {
      expect(jsonBody(v)).toBe(`${JSON.stringify(v)}\n`);
    }
  });
});

describe('jsonBody with float32 tensors in JSON numbers', () => {
  const t = (n: number, encoding: 'nested' | 'flat') =>
    encodeTensor({ shape: [n / 2, 2], data: Float32Array.from({ length: n }, (_, i) => Math.cos(i) / (i + 1)) }, encoding);

  it('is jsonBuffer\'s bytes when a tensor\'s text may reach 4,096 bytes, JSON.stringify\'s text otherwise; the same JSON either way', () => {
    // Float32Json.maxBytes: 23 per element with its comma, 3 per array, and 22: nested 168 elements
    // in 84 rows may take 4,141 bytes, 166 4,092; flat 178 elements 4,119, 176 4,073
    const cases = { nested: [[168, true], [166, false]], flat: [[178, true], [176, false]] } as const;
    for (const encoding of ['nested', 'flat'] as const) {
      for (const [n, buffered] of [...cases[encoding], [2000, true], [2, false]] as const) {
        const v = { loss: 0.5, gradients: { w: t(n, encoding), b: t(2, encoding) }, optimizerState: { step: 1, state: { w: { exp_avg: t(n, encoding) } } } };
        const body = jsonBody(v);
        expect(Buffer.isBuffer(body), `${n} ${encoding}`).toBe(buffered);
        expect(body.toString()).toBe(`${JSON.stringify(v)}\n`);
      }
    }
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

  it('a large base64 body: the same gradients as nested arrays; a raw control character in a tensor is a 422 naming it', async () => {
    const app = await startApp({ validateResponses: false });
    try {
      const n = 20_000;
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const t = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
      const body = (enc: 'base64' | 'nested') =>
        JSON.stringify({ ...twoWeight, inputs: { x: encodeTensor({ shape: [n], data: x }, enc), t: encodeTensor({ shape: [n], data: t }, enc) } });
      const post = (payload: string) => app.inject({ method: 'POST', url: '/v1/gradients', headers: { 'content-type': 'application/json' }, payload });
      const large = body('base64');
      expect(large.length).toBeGreaterThan(64 * 1024);
      const [a, b] = [await post(large), await post(body('nested'))];
      expect(a.statusCode, a.body).toBe(200);
      expect(a.json().gradients).toEqual(b.json().gradients);
      // JSON.parse would refuse the raw newline (400); the decoder refuses the string (422), naming the field
      const at = large.indexOf('"base64":"') + 5_000;
      const bad = await post(large.slice(0, at) + '\n' + large.slice(at + 1));
      expect(bad.statusCode).toBe(422);
      expect(bad.json().errors[0].path).toBe('inputs.x.base64');
      // four characters (three bytes) fewer in t's value
      const short = await post(large.replace(/("t":\{"shape":\[\d+\],"dtype":"float32","base64":"[^"]{5000})[^"]{4}/, '$1'));
      expect(short.statusCode).toBe(422);
      expect(short.json().errors).toEqual([{ path: 'inputs.t.base64', message: `decodes to ${4 * n - 3} bytes, but ${n} float32 elements need ${4 * n}` }]);
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
