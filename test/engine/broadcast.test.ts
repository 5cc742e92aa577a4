import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add } from '../../src/engine/ops/add.js';
import { maximum } from '../../src/engine/ops/maximum.js';
import { mul } from '../../src/engine/ops/mul.js';
import { sub } from '../../src/engine/ops/sub.js';
import { broadcastShapes, sumToShape, tensor, type Shape, type Tensor } from '../../src/engine/tensor.js';

// Broadcasting walks the output a row at a time (forEachRow) in the binary ops' compiled loops and in
// sumToShape. Checked against a naive reference that computes every element's operand indices from its
// own multi-index, over random broadcastable shapes (ranks 0–4, dimensions 0–3, size-1 dims anywhere).

const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** The flat index into `shape` (broadcast to `out`) of the output element at multi-index `idx`. */
function at(shape: Shape, out: Shape, idx: number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) {
    const k = idx[out.length - shape.length + d]!;
    i = i * shape[d]! + (shape[d] === 1 ? 0 : k);
  }
  return i;
}

function* indices(shape: Shape): Generator<number[]> {
  const n = size(shape);
  for (let o = 0; o < n; o++) {
    const idx = new Array<number>(shape.length);
    let r = o;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d]!;
      r = Math.floor(r / shape[d]!);
    }
    yield idx;
  }
}

/** Two shapes that broadcast: a common shape with some dims set to 1 on either side, and a prefix dropped. */
const shapes = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat(4), fc.nat(4))
  .map(([out, ones1, ones2, drop1, drop2]) => {
    const a = out.map((d, i) => (ones1[i] ? 1 : d)).slice(Math.min(drop1, out.length));
    const b = out.map((d, i) => (ones2[i] ? 1 : d)).slice(Math.min(drop2, out.length));
    return [a, b] as const;
  });

const filled = (shape: Shape, seed: number): Tensor =>
  tensor(shape, Array.from({ length: size(shape) }, (_, i) => Math.sin(seed * 7 + i * 1.3) * 3), 'float64');

describe('broadcasting a row at a time', () => {
  it('binary ops compute every element from the operands\' elements the reference picks, forward and backward', () => {
    fc.assert(
      fc.property(shapes, fc.constantFrom(add, sub, mul, maximum), ([sa, sb], op) => {
        const [a, b] = [filled(sa, 1), filled(sb, 2)];
        const out = broadcastShapes(sa, sb);
        const y = op.forward([a, b], {});
        expect(y.shape).toEqual(out);
        const g = filled(out, 3);
        const [ga, gb] = op.vjp([a, b], y, g, {});
        const want = { y: [] as number[], ga: new Array<number>(size(sa)).fill(0), gb: new Array<number>(size(sb)).fill(0) };
        let o = 0;
        for (const idx of indices(out)) {
          const [i, j] = [at(sa, out, idx), at(sb, out, idx)];
          const [u, v] = [a.data[i]!, b.data[j]!];
          want.y.push(op === add ? u + v : op === sub ? u - v : op === mul ? u * v : Math.max(u, v));
          const [du, dv] = op === add ? [1, 1] : op === sub ? [1, -1] : op === mul ? [v, u] : u > v ? [1, 0] : u < v ? [0, 1] : [0.5, 0.5];
          want.ga[i] += g.data[o]! * du;
          want.gb[j] += g.data[o]! * dv;
          o++;
        }
        expect(Array.from(y.data)).toEqual(want.y);
        const [da, db] = [sumToShape(ga!, sa), sumToShape(gb!, sb)];
        Array.from(da.data).forEach((v, k) => expect(v).toBeCloseTo(want.ga[k]!, 12));
        Array.from(db.data).forEach((v, k) => expect(v).toBeCloseTo(want.gb[k]!, 12));
      }),
      { numRuns: 400 },
    );
  });
});
