import { defineOp } from '../op.js';
import { broadcastShapes, dtypeOf, empty, like, type Shape, type Tensor } from '../tensor.js';
import { broadcastMap } from './axes.js';

/** For every element of `shape`: 1 where `cond`, broadcast to it, is nonzero (NaN too, as torch's bool()). */
export function truth(cond: Tensor, shape: Shape): Uint8Array {
  const map = broadcastMap(cond.shape, shape);
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = cond.data[map[i]!] !== 0 ? 1 : 0;
  return out;
}

export const where = defineOp({
  name: 'where',
  arity: 3,
  summary: 'a where cond is true, b elsewhere, the three broadcast together (torch.where(cond, a, b)); cond is true where nonzero',
  derivative: '∂L/∂a = g where cond, 0 elsewhere; ∂L/∂b = g where not cond, 0 elsewhere; cond takes no gradient',
  nonDifferentiable: [0],
  shape: ([c, a, b]) => broadcastShapes(c!, a!, b!),
  forward: ([c, a, b]) => {
    const shape = broadcastShapes(c!.shape, a!.shape, b!.shape);
    const out = empty(shape, dtypeOf(a!));
    const on = truth(c!, shape);
    const [ma, mb] = [broadcastMap(a!.shape, shape), broadcastMap(b!.shape, shape)];
    for (let i = 0; i < on.length; i++) out.data[i] = on[i] ? a!.data[ma[i]!]! : b!.data[mb[i]!]!;
    return out;
  },
  // the gradients are in the output's shape; the engine sums each back to its input's
  vjp: ([c], _out, g) => {
    const on = truth(c!, g.shape);
    const [ga, gb] = [like(g), like(g)];
    for (let i = 0; i < on.length; i++) (on[i] ? ga : gb).data[i] = g.data[i]!;
    return [null, ga, gb];
  },
});
