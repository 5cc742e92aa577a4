import { describe, expect, it } from 'vitest';
import { LimitError, SpecError } from '../../src/engine/errors.js';
import { decodeTensor, encodeTensor, wireElements } from '../../src/engine/wire.js';

const b64 = (arr: Float32Array | Float64Array): string => Buffer.from(arr.buffer).toString('base64');

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
    expect(encodeTensor({ shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, 'nested')).toEqual([[1, 2], [3, 4]]);
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
