import { z } from 'zod';
import { defineOp } from '../op.js';
import { dtypeOf, empty, formatShape, like, ShapeError, size, stridesOf, type Shape, type Tensor } from '../tensor.js';
import { axisOf } from './axes.js';
import { checkIndices } from './shared/indices.js';

const NAME = 'gather';

const AttrsSchema = z.strictObject({
  axis: z.number().int().describe('the axis the indices select along (negative counts from the end); torch.gather\'s dim, required as there'),
});

/** The axis, after checking that index has x's rank and is no larger than x off the axis (torch's rule). */
function gatherAxis(x: Shape, index: Shape, axis: number): number {
  const rank = Math.max(x.length, 1);
  const a = axisOf(axis, x, rank);
  if (index.length !== x.length || index.some((d, k) => k !== a && d > x[k]!)) {
    throw new ShapeError(
      `${NAME}: index ${formatShape(index)} must have the rank of the input ${formatShape(x)} and be no larger off axis ${a}`,
      1,
    );
  }
  return a;
}

/**
 * For every element of index: the flat offset of the element of x it selects, x's position being the
 * index element's own but along the axis, where it is the index's value.
 */
function sources(x: Tensor, index: Tensor, a: number): Int32Array {
  const xs = stridesOf(x.shape);
  const is = stridesOf(index.shape);
  const out = new Int32Array(size(index.shape));
  for (let i = 0; i < out.length; i++) {
    let o = 0;
    for (let k = 0; k < index.shape.length; k++) {
      const pos = Math.floor(i / is[k]!) % index.shape[k]!;
      o += (k === a ? index.data[i]! : pos) * xs[k]!;
    }
    out[i] = o;
  }
  return out;
}

export const gather = defineOp({
  name: NAME,
  arity: 2,
  attrs: AttrsSchema,
  summary: 'out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (likewise for any axis): picks along one axis by integer indices of x\'s rank, in the index\'s shape (torch.gather)',
  derivative: '∂L/∂x = g scatter-added to the positions the indices pick (an element picked twice gets both); the indices take no gradient',
  nonDifferentiable: [1],
  shape: ([x, index], { axis }) => {
    gatherAxis(x!, index!, axis);
    return [...index!];
  },
  forward: ([x, index], { axis }) => {
    const a = gatherAxis(x!.shape, index!.shape, axis);
    checkIndices(NAME, index!, { input: 1, label: 'index', what: 'index', n: x!.shape[a] ?? 1 });
    const src = sources(x!, index!, a);
    const out = empty(index!.shape, dtypeOf(x!));
    for (let i = 0; i < src.length; i++) out.data[i] = x!.data[src[i]!]!;
    return out;
  },
  vjp: ([x, index], _out, g, { axis }) => {
    const src = sources(x!, index!, gatherAxis(x!.shape, index!.shape, axis));
    const gx = like(x!);
    for (let i = 0; i < src.length; i++) gx.data[src[i]!] += g.data[i]!;
    return [gx, null];
  },
});
