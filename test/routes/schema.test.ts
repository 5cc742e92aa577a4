import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { TensorSchema } from '../../src/wire/tensor.js';
import { TensorMapSchema, tensorOrMap } from '../../src/routes/shared/schema.js';

// `inputs` (tensorOrMap) must parse exactly as the plain union it replaces, only without trying the
// tensor first for a value that cannot be one.

// the same description: a union's message names what it expected (engine/zod-messages.ts)
const plain = z.union([TensorSchema, TensorMapSchema]).describe('inputs');
const fast = tensorOrMap('inputs');

const nested = fc.oneof(fc.double(), fc.array(fc.double(), { maxLength: 3 }), fc.array(fc.array(fc.integer(), { maxLength: 2 }), { maxLength: 2 }));
const flat = fc.record({ shape: fc.array(fc.nat(4), { maxLength: 3 }), data: fc.oneof(fc.array(fc.double(), { maxLength: 4 }), fc.string()) });
const base64 = fc.record(
  { shape: fc.array(fc.nat(4), { maxLength: 2 }), dtype: fc.constantFrom('float32', 'float64', 'int8'), base64: fc.base64String() },
  { requiredKeys: ['shape'] },
);
const tensorish = fc.oneof(nested, flat, base64, fc.jsonValue({ maxDepth: 2 }));
// maps of tensors, some with an input named like a tensor's own keys, some with bad entries
const maps = fc.dictionary(fc.constantFrom('x', 't', 'shape', 'data', 'dtype', 'base64', 'y'), tensorish, { maxKeys: 4 });
const anything = fc.oneof(tensorish, maps, fc.constant({ shape: undefined, x: 1 }), fc.constant(null));

describe('tensorOrMap', () => {
  afterEach(() => vi.restoreAllMocks());

  it('gives the plain union\'s result and issues for any value', () => {
    fc.assert(
      fc.property(anything, (v) => {
        const a = plain.safeParse(v);
        const b = fast.safeParse(v);
        expect(b.success).toBe(a.success);
        if (a.success) expect(b.data).toEqual(a.data);
        else expect(b.error!.issues).toEqual(a.error.issues);
      }),
      { numRuns: 3000 },
    );
  });

  it('parses a graph\'s map of inputs without trying it as a tensor; a tensor is still a tensor', () => {
    const tried = vi.spyOn(TensorSchema._zod, 'run');
    expect(fast.parse({ x: 2, t: [[1, 2]] })).toEqual({ x: 2, t: [[1, 2]] });
    // the tensor schema ran once per entry of the map, never on the map itself
    expect(tried.mock.calls.map((c) => c[0].value)).toEqual([2, [[1, 2]]]);
    tried.mockClear();
    expect(fast.parse({ shape: [2], data: [1, 2] })).toEqual({ shape: [2], data: [1, 2] });
    expect(tried.mock.calls.map((c) => c[0].value)).toEqual([{ shape: [2], data: [1, 2] }]);
  });
});
