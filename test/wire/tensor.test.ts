import { describe, expect, it } from 'vitest';
import { LimitError, SpecError } from '../../src/engine/errors.js';
import { float32Text } from '../../src/engine/float32-text.js';
import { decodeBase64Text, decodeTensor, EncodedBase64, encodeTensor, Float32Json, wireElements } from '../../src/wire/tensor.js';

const b64 = (arr: Float32Array | Float64Array | Int32Array | BigInt64Array): string => Buffer.from(arr.buffer).toString('base64');

describe('tensor wire encodings', () => {
  it('decodes the three encodings to the same numbers', () => {
    const nested = decodeTensor([[1, 2, 3], [4, 5, 6]], 'float64', ['x']);
    const flat = decodeTensor({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, 'float64', ['x']);
    const base = decodeTensor({ shape: [2, 3], dtype: 'float32', base64: b64(new Float32Array([1, 2, 3, 4, 5, 6])) }, 'float64', ['x']);
    for (const t of [nested, flat, base]) {
      expect(t.shape).toEqual([2, 3]);
      expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(t.data).toBeInstanceOf(Float64Array);
    }
    expect(decodeTensor(2.5, 'float32', ['s'])).toEqual({ shape: [], data: new Float32Array([2.5]) });
  });

  it('round-trips through every encoding, including empty dimensions', () => {
    for (const shape of [[], [3], [2, 3], [2, 0], [0, 3], [2, 1, 2]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const t = { shape, data: Float64Array.from({ length: n }, (_, i) => i * 0.5 - 1) };
      for (const enc of ['nested', 'flat', 'base64'] as const) {
        // NOTE: nested arrays cannot express inner dimensions of an empty outer one ([0, 3] reads as [0])
        if (enc === 'nested' && shape[0] === 0) continue;
        const back = decodeTensor(JSON.parse(JSON.stringify(encodeTensor(t, enc))), 'float64', ['t']);
        expect(back.shape).toEqual(shape);
        expect(Array.from(back.data)).toEqual(Array.from(t.data));
      }
    }
    expect(JSON.parse(JSON.stringify(encodeTensor({ shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, 'nested')))).toEqual([[1, 2], [3, 4]]);
  });

  it('names the offending element of ragged, non-numeric or non-finite input', () => {
    const err = (f: () => unknown): SpecError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return e as SpecError;
      }
      throw new Error('did not throw');
    };
    expect(err(() => decodeTensor([[1, 2], [3]], 'float64', ['inputs', 'x'])).path).toEqual(['inputs', 'x', 1]);
    expect(err(() => decodeTensor([[1, 2], [3, '4']], 'float64', ['x'])).path).toEqual(['x', 1, 1]);
    expect(err(() => decodeTensor([1, [2]], 'float64', ['x'])).path).toEqual(['x', 1]);
    expect(err(() => decodeTensor({ shape: [3], data: [1, 2] }, 'float64', ['x'])).path).toEqual(['x', 'data']);
    expect(err(() => decodeTensor({ shape: [2], data: [1, 1e999] }, 'float64', ['x'])).path).toEqual(['x', 'data', 1]);
    const nan = b64(new Float64Array([1, NaN]));
    expect(err(() => decodeTensor({ shape: [2], dtype: 'float64', base64: nan }, 'float64', ['x'])).path).toEqual(['x', 'base64']);
    const inf = b64(new Float32Array([-Infinity]));
    expect(err(() => decodeTensor({ shape: [1], dtype: 'float32', base64: inf }, 'float32', ['x'])).message).toMatch(/not finite/);
    expect(err(() => decodeTensor({ shape: [3], dtype: 'float32', base64: b64(new Float32Array(2)) }, 'float32', ['x'])).message).toMatch(/bytes/);
  });

  it('decodes int32 and int64 base64 (class indices, token ids) exactly, or refuses naming the element', () => {
    const i32 = decodeTensor({ shape: [3], dtype: 'int32', base64: b64(Int32Array.from([7, -100, 2 ** 31 - 1])) }, 'float64', ['x']);
    expect(Array.from(i32.data)).toEqual([7, -100, 2 ** 31 - 1]);
    const i64 = decodeTensor({ shape: [2, 2], dtype: 'int64', base64: b64(BigInt64Array.from([0n, 3n, -(2n ** 53n), 2n ** 53n])) }, 'float64', ['x']);
    expect(i64.shape).toEqual([2, 2]);
    expect(Array.from(i64.data)).toEqual([0, 3, -(2 ** 53), 2 ** 53]);
    // float32 holds every integer up to 2^24 and no further
    const small = decodeTensor({ shape: [2], dtype: 'int64', base64: b64(BigInt64Array.from([2n ** 24n, -5n])) }, 'float32', ['x']);
    expect(small.data).toEqual(new Float32Array([2 ** 24, -5]));
    const e32 = (() => {
      try {
        decodeTensor({ shape: [2], dtype: 'int32', base64: b64(Int32Array.from([1, 2 ** 24 + 1])) }, 'float32', ['inputs', 'ids']);
      } catch (e) {
        return e as SpecError;
      }
      throw new Error('did not throw');
    })();
    expect(e32).toBeInstanceOf(SpecError);
    expect(e32.issues[0]).toEqual({
      path: ['inputs', 'ids', 'base64'],
      message: 'element 1 (16777217) is beyond ±2^24, where integers stay exact in float32 (options.dtype "float64" keeps integers exact to ±2^53)',
    });
    expect(() => decodeTensor({ shape: [1], dtype: 'int64', base64: b64(BigInt64Array.from([2n ** 53n + 1n])) }, 'float64', ['x'])).toThrow(
      /element 0 \(9007199254740993\) is beyond ±2\^53/,
    );
    expect(() => decodeTensor({ shape: [2], dtype: 'int64', base64: b64(Int32Array.from([1, 2])) }, 'float64', ['x'])).toThrow(/decodes to 8 bytes, but 2 int64 elements need 16/);
  });

  it('handles arrays nested far deeper than any rank without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => decodeTensor(deep, 'float64', ['x'])).toThrow(SpecError);
  });

  it('refuses tensors over the element limit before allocating them', () => {
    const huge = { shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], data: [] };
    expect(() => decodeTensor(huge, 'float64', ['x'], 1e6)).toThrow(LimitError);
    expect(() => wireElements({ shape: [1000, 1001], dtype: 'float32', base64: '' }, ['x'], 1e6)).toThrow(LimitError);
    expect(wireElements([[1, 2], [3, 4]], ['x'], 4)).toBe(4);
  });
});

describe('base64 decoded from a body\'s bytes (DecodedBase64)', () => {
  // what decodeTensor makes of base64 text given as a string, and as the bytes a server decoded ahead
  const both = (text: string, shape: number[], dtype: 'float32' | 'float64', to: 'float32' | 'float64') => {
    const outcome = (base64: unknown) => {
      try {
        const t = decodeTensor({ shape, dtype, base64 }, to, ['x']);
        return { ok: true, shape: t.shape, data: Array.from(t.data), type: t.data.constructor.name };
      } catch (e) {
        expect(e).toBeInstanceOf(SpecError);
        return { ok: false, path: (e as SpecError).issues[0]!.path, message: (e as SpecError).issues[0]!.message };
      }
    };
    return [outcome(text), outcome(decodeBase64Text(Buffer.from(text, 'latin1')))];
  };

  it('decodes as the string would, across the 65,536-character pieces it is read in', () => {
    // 3 pieces and a bit: 200,000 bytes = 266,668 characters with padding
    for (const n of [0, 1, 3, 16_383, 16_384, 16_385, 50_000]) {
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
      const [s, d] = both(b64(x), [n], 'float32', 'float32');
      expect(d).toEqual(s);
      expect(d!.ok).toBe(true);
      expect(d!.data).toEqual(Array.from(x));
    }
    const y = Float64Array.from({ length: 40_000 }, (_, i) => 1 / (i + 1));
    const [s, d] = both(b64(y), [200, 200], 'float64', 'float32');
    expect(d).toEqual(s);
    expect(d).toMatchObject({ ok: true, type: 'Float32Array', shape: [200, 200] });
  });

  it('refuses what the string is refused for, with the same message: wrong length, a character outside the alphabet anywhere, a misplaced =', () => {
    const n = 50_000; // 266,668 characters
    const text = b64(Float32Array.from({ length: n }, (_, i) => i));
    const at = (i: number, c: string) => text.slice(0, i) + c + text.slice(i + 1);
    const cases = [
      text.slice(0, -4), // three bytes short
      text + 'AAAA',
      at(10, '\n'),
      at(65_535, '\u0001'), // the last character of the first piece
      at(65_536, '*'), // the first of the second
      at(131_071, '='),
      at(text.length - 5, '"'),
    ];
    for (const t of cases) {
      const [s, d] = both(t, [n], 'float32', 'float32');
      expect(d).toEqual(s);
      expect(d).toMatchObject({ ok: false, path: ['x', 'base64'] });
    }
    // non-finite elements are named as in the string
    const inf = Float32Array.from({ length: 20_000 }, (_, i) => (i === 17_000 ? Infinity : i));
    const [s, d] = both(b64(inf), [20_000], 'float32', 'float32');
    expect(d).toEqual(s);
    expect(d).toMatchObject({ ok: false, message: 'element 17000 is not finite (Infinity)' });
  });

  it('hands its bytes over once and a copy after that, so two tensors never share memory', () => {
    const decoded = decodeBase64Text(Buffer.from(b64(new Float32Array([1, 2, 3, 4])), 'latin1'));
    const wire = { shape: [4], dtype: 'float32', base64: decoded };
    const a = decodeTensor(wire, 'float32', ['a']);
    const b = decodeTensor(wire, 'float32', ['b']);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(b.data)).toEqual([1, 2, 3, 4]);
    expect(a.data.buffer).not.toBe(b.data.buffer);
    a.data[0] = 9;
    expect(b.data[0]).toBe(1);
  });
});

describe('base64 written by an answer (EncodedBase64)', () => {
  it('writes Buffer#toString(\'base64\')\'s text into a buffer at any offset, across the 49,152-byte pieces it encodes at a time', () => {
    for (const n of [0, 1, 2, 3, 4, 49_151, 49_152, 49_153, 49_154, 98_304, 150_001]) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 7919 + (i >> 8)) & 255;
      const text = bytes.toString('base64');
      const e = new EncodedBase64(bytes);
      expect(e.length, `n=${n}`).toBe(text.length);
      expect(e.toJSON()).toBe(text);
      expect(JSON.stringify({ base64: e })).toBe(JSON.stringify({ base64: text }));
      const out = Buffer.alloc(text.length + 10, 0x2a);
      expect(e.writeInto(out, 7)).toBe(text.length);
      expect(out.toString('latin1')).toBe('*'.repeat(7) + text + '***');
    }
  });

  it('is what encodeTensor gives for base64, of the tensor\'s own bytes', () => {
    const data = Float64Array.from({ length: 5 }, (_, i) => i / 3);
    const w = encodeTensor({ shape: [5], data }, 'base64') as { shape: number[]; dtype: string; base64: EncodedBase64 };
    expect(w.dtype).toBe('float64');
    expect(w.base64).toBeInstanceOf(EncodedBase64);
    expect(w.base64.toJSON()).toBe(b64(data));
  });
});

describe('float32 numbers written by an answer (Float32Json)', () => {
  /** The JSON an answer must hold: nested arrays, or {shape, data}, of each element's shortest text (null when not finite). */
  function expected(data: Float32Array, shape: number[], encoding: 'nested' | 'flat'): string {
    const texts = Array.from(data, (v) => (Number.isFinite(v) ? float32Text(v) : 'null'));
    if (encoding === 'flat') return `{"shape":${JSON.stringify(shape)},"data":[${texts.join(',')}]}`;
    const nest = (from: number, d: number): string => {
      if (d === shape.length) return texts[from]!;
      const step = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      return `[${Array.from({ length: shape[d]! }, (_, i) => nest(from + i * step, d + 1)).join(',')}]`;
    };
    return nest(0, 0);
  }

  it('is what encodeTensor gives for float32 nested and flat; its buffer text, and JSON.stringify\'s of it, are each element\'s shortest decimal', () => {
    for (const shape of [[], [1], [3], [2, 3], [2, 0], [0, 3], [2, 1, 2], [1, 1, 1, 1, 5], [17], [3, 2, 3]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => [0.1, -0.4, NaN, -0, 1e-45, Infinity, 1 / 3][i % 7]! * (i + 1));
      // a view into a larger buffer, as the engine's results may be
      const view = new Float32Array(n + 3).subarray(2, 2 + n);
      view.set(data);
      for (const encoding of ['nested', 'flat'] as const) {
        const w = encodeTensor({ shape, data: view }, encoding);
        const encoded = encoding === 'flat' ? (w as { data: unknown }).data : w;
        // up to 16 elements, the numbers themselves; more, the writer that prints them into the answer's buffer
        expect(encoded instanceof Float32Json, `${encoding} [${shape}]`).toBe(n > 16);
        const json = encoded instanceof Float32Json ? encoded : new Float32Json(view, encoding === 'flat' ? [n] : shape);
        const text = expected(data, shape, encoding);
        expect(JSON.stringify(w), `${encoding} [${shape}]`).toBe(text);
        const out = Buffer.alloc(json.maxBytes + 8, 0x2a);
        const written = json.writeInto(out, 5);
        expect(written).toBeLessThanOrEqual(json.maxBytes);
        expect(out.toString('latin1', 0, 5 + written + 1)).toBe(`*****${encoding === 'flat' ? text.slice(text.indexOf('"data":') + 7, -1) : text}*`);
      }
    }
  });

  it('gives the same float32 numbers back, and float64 tensors stay as JavaScript prints them', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 20) - 10));
    const back = decodeTensor(JSON.parse(JSON.stringify(encodeTensor({ shape: [10, 100], data }, 'nested'))), 'float32', ['t']);
    expect(back.data).toEqual(data);
    expect(JSON.stringify(encodeTensor({ shape: [2], data: new Float64Array([0.1, 1 / 3]) }, 'flat'))).toBe('{"shape":[2],"data":[0.1,0.3333333333333333]}');
    expect(JSON.stringify(encodeTensor({ shape: [2], data: new Float32Array([0.1, 1 / 3]) }, 'flat'))).toBe('{"shape":[2],"data":[0.1,0.33333334]}');
  });
});
