import { describe, expect, it } from 'vitest';
import { ownBuffers } from '../../src/engine/transfer.js';
import type { Tensor } from '../../src/engine/tensor.js';

// A result leaves the engine with every tensor on a whole buffer no other tensor of it uses
// (engine/transfer.ts): a worker's reply moves them, and a buffer listed twice cannot be moved.

describe('ownBuffers', () => {
  it('gives every tensor a whole buffer of its own, small or large, repeated or a view, at any depth; values unchanged', () => {
    const small: Tensor = { shape: [2], data: new Float32Array([1, 2]) };
    const large: Tensor = { shape: [64], data: Float64Array.from({ length: 64 }, (_, i) => i) };
    const whole = new Float32Array(32).map((_, i) => i);
    const view: Tensor = { shape: [4], data: whole.subarray(8, 12) };
    const result = { a: small, b: small, nested: { c: large, d: [large, view] }, loss: 3, note: 'x' };
    const out = ownBuffers(result);
    const tensors = [out.a, out.b, out.nested.c, out.nested.d[0]!, out.nested.d[1]!];
    const datas = tensors.map((t) => t.data);
    expect(new Set(datas).size).toBe(5);
    expect(new Set(datas.map((d) => d.buffer)).size).toBe(5);
    for (const d of datas) expect([d.byteOffset, d.byteLength]).toEqual([0, d.buffer.byteLength]);
    expect(Array.from(out.a.data)).toEqual([1, 2]);
    expect(Array.from(out.b.data)).toEqual([1, 2]);
    expect(Array.from(out.nested.c.data)).toEqual(Array.from(large.data));
    expect(Array.from(out.nested.d[1]!.data)).toEqual([8, 9, 10, 11]);
    expect([out.loss, out.note]).toEqual([3, 'x']);
    // the large tensor seen first keeps its buffer: nothing is copied that need not be
    expect(out.nested.c.data).toBe(large.data);
  });
});
