import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, formatShape, like, ShapeError, type Shape } from '../tensor.js';
import { checkIndices } from './shared/indices.js';

const NAME = 'embedding';

/** [num, dim] of the weight, and the padding row as a non-negative index (or -1). */
function table(weight: Shape, paddingIdx: number | undefined): { num: number; dim: number; pad: number } {
  if (weight.length !== 2) throw new ShapeError(`${NAME}: weight must be [num_embeddings, embedding_dim], got ${formatShape(weight)}`, 1);
  const [num, dim] = weight as [number, number];
  if (paddingIdx !== undefined && (paddingIdx < -num || paddingIdx >= num)) {
    throw new ShapeError(`${NAME}: paddingIdx ${paddingIdx} is out of range for ${num} embeddings (expected ${-num} … ${num - 1})`, 1);
  }
  return { num, dim, pad: paddingIdx === undefined ? -1 : paddingIdx < 0 ? paddingIdx + num : paddingIdx };
}

export const embedding = defineOp({
  name: NAME,
  arity: 2,
  attrs: z.strictObject({
    paddingIdx: z.number().int().optional()
      .describe('a row of the weight that takes no gradient (negative counts from the end), as torch padding_idx; its value is still looked up'),
  }),
  summary: 'looks up rows of weight [num, dim] by integer indices of any shape: out[..., :] = weight[indices[...], :], shape [...indices, dim] (F.embedding)',
  derivative: '∂L/∂weight[r, :] = Σ of g[i, :] over every position i whose index is r (repeated indices add up), 0 for the paddingIdx row (torch\'s convention, not the derivative: /v1/gradcheck flags that row where it is looked up); the indices take no gradient',
  nonDifferentiable: [0],
  shape: ([idx, w], { paddingIdx }) => [...idx!, table(w!, paddingIdx).dim],
  forward: ([idx, w], { paddingIdx }) => {
    const { num, dim } = table(w!.shape, paddingIdx);
    checkIndices(NAME, idx!, { input: 0, label: 'indices', what: 'index', n: num });
    const out = empty([...idx!.shape, dim], dtypeOf(w!));
    const ids = idx!.data;
    for (let i = 0; i < ids.length; i++) out.data.set(w!.data.subarray(ids[i]! * dim, (ids[i]! + 1) * dim), i * dim);
    return out;
  },
  vjp: ([idx, w], _out, g, { paddingIdx }, needs, into) => {
    if (needs && !needs[1]) return [null, null];
    const { dim, pad } = table(w!.shape, paddingIdx);
    // the weight's gradient summed so far, when the engine holds one (a tied embedding): added to in place
    const gw = into?.[1] ?? like(w!);
    const [ids, gd, gwd] = [idx!.data, g.data, gw.data];
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i]!;
      if (r === pad) continue;
      for (let j = 0, o = r * dim, s = i * dim; j < dim; j++) gwd[o + j] += gd[s + j]!;
    }
    return [null, gw];
  },
});
