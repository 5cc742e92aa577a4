import { describe, expect, it } from 'vitest';
import { OpValueError } from '../../../src/engine/op.js';
import { embedding } from '../../../src/engine/ops/embedding.js';
import { ShapeError, tensor, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13, float64, F.embedding(indices, w, padding_idx=p) and
// (y * arange(12).reshape(2, 2, 3)).sum().backward()
const w = t64([4, 3], [0.5, -1, 2, 1.5, 0.25, -0.75, 3, 1, 0, -2, 0.5, 1.25]);
const ids = t64([2, 2], [1, 3, 1, 0]);
const g = t64([2, 2, 3], (i) => i);

const run = (raw: unknown, indices: Tensor = ids) => {
  const attrs = embedding.parseAttrs(raw);
  const out = embedding.forward([indices, w], attrs);
  return { out, grads: embedding.vjp([indices, w], out, g, attrs) };
};

describe('embedding', () => {
  it('looks up one row per index, in the indices\' shape plus the row, as F.embedding', () => {
    const { out } = run({});
    expect(out.shape).toEqual([2, 2, 3]);
    expectClose(out, [1.5, 0.25, -0.75, -2, 0.5, 1.25, 1.5, 0.25, -0.75, 0.5, -1, 2]);
    expect(embedding.shape([[], [4, 3]], embedding.parseAttrs({}))).toEqual([3]);
    expect(embedding.shape([[2, 0, 5], [4, 3]], embedding.parseAttrs({}))).toEqual([2, 0, 5, 3]);
  });

  it('adds the gradient of repeated indices into one row, leaves paddingIdx\'s row at 0 and gives the indices none', () => {
    const plain = run({});
    expectClose(plain.grads[1]!, [9, 10, 11, 6, 8, 10, 0, 0, 0, 3, 4, 5]);
    expect(plain.grads[0]).toBeNull();
    expect(embedding.nonDifferentiable).toEqual([0]);
    // the padding row is still looked up, as torch
    const padded = run({ paddingIdx: 1 });
    expectClose(padded.out, plain.out.data);
    expectClose(padded.grads[1]!, [9, 10, 11, 0, 0, 0, 0, 0, 0, 3, 4, 5]);
    expectClose(run({ paddingIdx: -1 }).grads[1]!, [9, 10, 11, 6, 8, 10, 0, 0, 0, 0, 0, 0]);
  });

  it('adds into the weight\'s gradient the engine already holds (a tied embedding)', () => {
    const attrs = embedding.parseAttrs({});
    const held = t64([4, 3], () => 1);
    const [, gw] = embedding.vjp([ids, w], embedding.forward([ids, w], attrs), g, attrs, [false, true], [undefined, held]);
    expect(gw).toBe(held);
    expectClose(held, [10, 11, 12, 7, 9, 11, 1, 1, 1, 4, 5, 6]);
    expect(embedding.vjp([ids, w], g, g, attrs, [false, false])).toEqual([null, null]);
  });

  it('computes in float32 as in float64', () => {
    const attrs = embedding.parseAttrs({ paddingIdx: 0 });
    const w32 = tensor([4, 3], w.data, 'float32');
    const out = embedding.forward([tensor([2, 2], ids.data, 'float32'), w32], attrs);
    expect(out.data).toBeInstanceOf(Float32Array);
    expectClose(out, [1.5, 0.25, -0.75, -2, 0.5, 1.25, 1.5, 0.25, -0.75, 0.5, -1, 2]);
    const [, gw] = embedding.vjp([tensor([2, 2], ids.data, 'float32'), w32], out, tensor([2, 2, 3], g.data, 'float32'), attrs);
    expect(gw!.data).toBeInstanceOf(Float32Array);
    expectClose(gw!, [0, 0, 0, 6, 8, 10, 0, 0, 0, 3, 4, 5]);
  });

  it('refuses an index out of range or not an integer, naming its position', () => {
    const attrs = embedding.parseAttrs({});
    expect(() => embedding.forward([t64([2, 2], [0, 1, 4, 0]), w], attrs)).toThrow(
      new OpValueError('embedding: index 4 at indices[1, 0] is out of range [0, 4)', 0),
    );
    expect(() => embedding.forward([t64([1], [-1]), w], attrs)).toThrow('embedding: index -1 at indices[0] is out of range [0, 4)');
    expect(() => embedding.forward([t64([2], [0, 2.5]), w], attrs)).toThrow('embedding: indices[1] = 2.5 is not an integer index');
  });

  it('refuses a weight that is not 2-D and a paddingIdx outside the table, as torch', () => {
    expect(() => embedding.shape([[2], [4]], embedding.parseAttrs({}))).toThrow(
      new ShapeError('embedding: weight must be [num_embeddings, embedding_dim], got [4]', 1),
    );
    expect(() => embedding.shape([[2], [4, 3]], embedding.parseAttrs({ paddingIdx: 4 }))).toThrow(
      'embedding: paddingIdx 4 is out of range for 4 embeddings (expected -4 … 3)',
    );
    expect(() => embedding.shape([[2], [4, 3]], embedding.parseAttrs({ paddingIdx: -5 }))).toThrow(ShapeError);
    expect(() => embedding.parseAttrs({ padding_idx: 1 })).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(embedding, [t64([3, 2], [2, 0, 2, 2, 4, 1]), rand([5, 3], 1)]);
    // NOTE: where an index is paddingIdx the VJP is 0 by definition, not the derivative finite
    // differences see; with paddingIdx set, these indices avoid it
    checkVjp(embedding, [t64([4], [2, 2, 0, 2]), rand([3, 2], 2)], { paddingIdx: 1 });
    checkVjp(embedding, [t64([], [2]), rand([3, 4], 3)], { paddingIdx: -3 });
  });
});
