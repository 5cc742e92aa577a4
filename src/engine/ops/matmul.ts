import { gemm } from '../kernels/index.js';
import { defineOp } from '../op.js';
import { broadcastShapes, dtypeOf, empty, formatShape, ShapeError, size, zeros, type Data, type Shape, type Tensor } from '../tensor.js';
import { reductionMap } from './axes.js';

/**
 * torch.matmul's reading of the operand shapes: a 1-D `a` is a row [1, k] and a 1-D `b` a column
 * [k, 1] (that dimension is dropped from the result); leading dims are batch dims and broadcast.
 * When every batch shares one `b`, the batches of `a` are stacked into one tall product (as torch does).
 */
function plan(a: Shape, b: Shape) {
  const pair = `${formatShape(a)} @ ${formatShape(b)}`;
  if (a.length === 0 || b.length === 0) throw new ShapeError(`matmul needs operands of rank ≥ 1, got ${pair}`);
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const [m, k, kb, n] = [a2.at(-2)!, a2.at(-1)!, b2.at(-2)!, b2.at(-1)!];
  if (k !== kb) throw new ShapeError(`matmul: inner dimensions differ in ${pair} (${k} vs ${kb})`, 1);
  const [ba, bb] = [a2.slice(0, -2), b2.slice(0, -2)];
  let batch: number[];
  try {
    batch = broadcastShapes(ba, bb);
  } catch {
    throw new ShapeError(`matmul: batch dimensions ${formatShape(ba)} and ${formatShape(bb)} of ${pair} do not broadcast`);
  }
  const shape = [...batch, ...(a.length > 1 ? [m] : []), ...(b.length > 1 ? [n] : [])];
  const fold = size(bb) === 1;
  const pad = (s: number[]) => [...new Array<number>(batch.length - s.length).fill(1), ...s];
  const one = new Int32Array(1);
  const [ia, ib] = fold ? [one, one] : [reductionMap(batch, pad(ba)), reductionMap(batch, pad(bb))];
  // beta = 1 accumulates the gradient of an operand that several batches share
  const beta = (s: number[]) => (!fold && size(s) < size(batch) ? 1 : 0);
  return { shape, m: fold ? m * size(batch) : m, k, n, ia, ib, betaA: beta(ba), betaB: beta(bb) };
}

/** Calls `f` once per product with the views of a, b and the output (or g) for that batch. */
function eachBatch(p: ReturnType<typeof plan>, a: Tensor, b: Tensor, c: Tensor, f: (a: Data, b: Data, c: Data) => void) {
  const { m, k, n } = p;
  for (let t = 0; t < p.ia.length; t++) {
    const [oa, ob] = [p.ia[t]! * m * k, p.ib[t]! * k * n];
    f(a.data.subarray(oa, oa + m * k), b.data.subarray(ob, ob + k * n), c.data.subarray(t * m * n, (t + 1) * m * n));
  }
}

export const matmul = defineOp({
  name: 'matmul',
  arity: 2,
  summary: 'a @ b as torch.matmul: 1-D operands as row/column vectors, batch dims broadcast',
  derivative: '∂L/∂a = g · bᵀ, ∂L/∂b = aᵀ · g (per batch, summed over broadcast batch dims)',
  shape: ([a, b]) => plan(a!, b!).shape,
  // each output element is a dot product of length k
  flops: ([a], out) => 2 * size(out) * a!.at(-1)!,
  forward: ([a, b]) => {
    const p = plan(a!.shape, b!.shape);
    const out = empty(p.shape, dtypeOf(a!)); // every batch's block is written by a beta = 0 product
    eachBatch(p, a!, b!, out, (x, y, z) => gemm(false, false, p.m, p.n, p.k, 1, x, p.k, y, p.n, 0, z, p.n));
    return out;
  },
  // a product is skipped when its gradient is not wanted (e.g. a data operand); an operand's gradient
  // so far (`into`, a weight shared by several products) takes this one's products in place, beta = 1
  vjp: ([a, b], _out, g, _attrs, needs, into) => {
    const p = plan(a!.shape, b!.shape);
    let [da, db] = [null as Tensor | null, null as Tensor | null];
    if (needs?.[0] ?? true) {
      const d = (da = into?.[0] ?? zeros(a!.shape, dtypeOf(a!)));
      const beta = into?.[0] ? 1 : p.betaA;
      eachBatch(p, d, b!, g, (dx, y, gz) => gemm(false, true, p.m, p.k, p.n, 1, gz, p.n, y, p.n, beta, dx, p.k));
    }
    if (needs?.[1] ?? true) {
      const d = (db = into?.[1] ?? zeros(b!.shape, dtypeOf(b!)));
      const beta = into?.[1] ? 1 : p.betaB;
      eachBatch(p, a!, d, g, (x, dy, gz) => gemm(true, false, p.k, p.n, p.m, 1, x, p.k, gz, p.n, beta, dy, p.n));
    }
    return [da, db];
  },
});
