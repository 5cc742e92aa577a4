import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, modelId } from '../../src/plugins/models.js';

describe('canonicalJson', () => {
  it('sorts the keys of every object, keeps array order, writes no whitespace', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: 'x' }], a: { d: null, c: true } })).toBe('{"a":{"c":true,"d":null},"b":[3,{"a":"x","z":1}]}');
    expect(canonicalJson([2, 1])).toBe('[2,1]');
    expect(canonicalJson('é"\n')).toBe(JSON.stringify('é"\n'));
  });

  it('is JSON that parses back to the same value, for any JSON value', () => {
    const values = [0, -1.5e-300, 'a', [], {}, { '': 1, 'a b': [null, false] }, [[[{ k: 'v' }]]]];
    for (const v of values) expect(JSON.parse(canonicalJson(v)!)).toEqual(v);
  });

  it('gives undefined for a value nested too deeply to walk', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(canonicalJson(deep)).toBeUndefined();
  });
});

describe('modelId', () => {
  it('is sha256: and the hex digest of the text', () => {
    expect(modelId('{}')).toBe(`sha256:${createHash('sha256').update('{}').digest('hex')}`);
    expect(modelId('{}')).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
