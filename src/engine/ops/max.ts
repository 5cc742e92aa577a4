import { defineOp } from '../op.js';
import { dtypeOf, formatShape, full, ShapeError, zeros, type Shape } from '../tensor.js';
import { reducedShape, ReduceAttrsSchema, reduction, type ReduceAttrs } from './axes.js';

function maxShape(x: Shape, attrs: ReduceAttrs): number[] {
  const { shape, kept } = reducedShape(x, attrs);
  // a reduced axis keeps size 1 in `kept`, so a 0 there means an empty axis was reduced
  if (x.some((d, i) => d === 0 && kept[i] === 1)) {
    throw new ShapeError(`max over an empty axis of ${formatShape(x)} has no value`);
  }
  return shape;
}

export const max = defineOp({
  name: 'max',
  arity: 1,
  attrs: ReduceAttrsSchema,
  summary: 'maximum over the given axes, or over all (torch.amax)',
  derivative: '∂L/∂x_i = g / t where x_i is the maximum (t = number of elements tied for it), 0 elsewhere',
  shape: ([x], attrs) => maxShape(x!, attrs),
  forward: ([x], attrs) => {
    const out = full(maxShape(x!.shape, attrs), -Infinity, dtypeOf(x!));
    const { map } = reduction(x!, attrs);
    const [xs, ys] = [x!.data, out.data];
    for (let i = 0; i < map.length; i++) if (xs[i]! > ys[map[i]!]!) ys[map[i]!] = xs[i]!;
    return out;
  },
  // NOTE: max is not differentiable where elements tie. We follow torch.amax, which splits the
  // gradient evenly among the tied maxima (torch.max(dim) instead gives it all to one index). The
  // even split is also what central differences see for a two-way tie, and it keeps Σ ∂L/∂x = g.
  vjp: ([x], out, g, attrs) => {
    const { map } = reduction(x!, attrs);
    const [xs, ys] = [x!.data, out.data];
    const ties = new Float64Array(ys.length);
    for (let i = 0; i < map.length; i++) if (xs[i] === ys[map[i]!]) ties[map[i]!]++;
    const gx = zeros(x!.shape, dtypeOf(g));
    for (let i = 0; i < map.length; i++) {
      const o = map[i]!;
      if (xs[i] === ys[o]) gx.data[i] = g.data[o]! / ties[o]!;
    }
    return [gx];
  },
});
