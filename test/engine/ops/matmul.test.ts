import { describe, expect, it } from 'vitest';
import { matmul } from '../../../src/engine/ops/matmul.js';
import { cast, ShapeError, type Shape, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { gemmBackends, useGemmBackend } from './gemm-backends.js';

/**
 * Independent oracle: torch.matmul written out with plain loops. Operands are promoted to rank ≥ 2
 * and to a common batch rank; a size-1 batch dim of either operand is read at index 0.
 */
function naive(a: Tensor, b: Tensor): number[] {
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const r = Math.max(as.length, bs.length);
  while (as.length < r) as.unshift(1);
  while (bs.length < r) bs.unshift(1);
  const [m, k, n] = [as[r - 2]!, as[r - 1]!, bs[r - 1]!];
  const batch = as.slice(0, -2).map((d, i) => Math.max(d, bs[i]!));
  const count = batch.reduce((x, y) => x * y, 1);
  const out: number[] = [];
  for (let t = 0; t < count; t++) {
    let [rem, ia, ib, sa, sb] = [t, 0, 0, 1, 1];
    for (let d = batch.length - 1; d >= 0; d--) {
      const idx = rem % batch[d]!;
      rem = Math.floor(rem / batch[d]!);
      if (as[d] !== 1) ia += idx * sa;
      if (bs[d] !== 1) ib += idx * sb;
      sa *= as[d]!;
      sb *= bs[d]!;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[ia * m * k + i * k + p]! * b.data[ib * k * n + p * n + j]!;
        out.push(s);
      }
    }
  }
  return out;
}

const cases: [Shape, Shape, Shape][] = [
  [[3, 4], [4, 5], [3, 5]],
  [[4], [4], []],
  [[4], [4, 2], [2]],
  [[3, 4], [4], [3]],
  [[2, 3, 4], [4, 5], [2, 3, 5]], // b shared by every batch: the stacked single-gemm path
  [[3, 4], [2, 4, 5], [2, 3, 5]], // a shared by every batch
  [[2, 1, 3, 4], [5, 4, 2], [2, 5, 3, 2]], // both broadcast
  [[4], [2, 4, 5], [2, 5]],
  [[2, 3, 4], [4], [2, 3]],
  [[2, 2, 3], [2, 3, 2], [2, 2, 2]],
];

describe.each(gemmBackends())('matmul on the %s gemm', (_name, backend) => {
  useGemmBackend(backend);

  it('multiplies 2-D matrices (hand-computed)', () => {
    const out = matmul.forward([t64([2, 2], [1, 2, 3, 4]), t64([2, 2], [5, 6, 7, 8])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [19, 22, 43, 50]);
  });

  it('treats 1-D operands as torch does', () => {
    const dot = matmul.forward([t64([3], [1, 2, 3]), t64([3], [4, 5, 6])], {});
    expect(dot.shape).toEqual([]);
    expectClose(dot, [32]);
    const row = matmul.forward([t64([2], [1, 2]), t64([2, 3], [1, 2, 3, 4, 5, 6])], {});
    expect(row.shape).toEqual([3]);
    expectClose(row, [9, 12, 15]);
    const col = matmul.forward([t64([2, 3], [1, 2, 3, 4, 5, 6]), t64([3], [1, 0, -1])], {});
    expect(col.shape).toEqual([2]);
    expectClose(col, [-2, -2]);
  });

  it('matches the loop oracle on batched and broadcast shapes, in float64 and float32', () => {
    cases.forEach(([sa, sb, so], c) => {
      const [a, b] = [rand(sa, 10 + c), rand(sb, 50 + c)];
      expect(matmul.shape([sa, sb], {})).toEqual(so);
      const out = matmul.forward([a, b], {});
      expect(out.shape).toEqual(so);
      expectClose(out, naive(a, b), 1e-12);
      const out32 = matmul.forward([cast(a, 'float32'), cast(b, 'float32')], {});
      expect(out32.data).toBeInstanceOf(Float32Array);
      expectClose(out32, naive(a, b), 1e-5);
    });
  });

  it('gives zeros for an empty inner dimension and an empty result for an empty outer one', () => {
    const z = matmul.forward([t64([2, 0], []), t64([0, 3], [])], {});
    expect(z.shape).toEqual([2, 3]);
    expectClose(z, [0, 0, 0, 0, 0, 0]);
    expect(matmul.forward([t64([0, 2], []), rand([2, 3], 1)], {}).shape).toEqual([0, 3]);
  });

  it('rejects shapes that do not fit, naming them', () => {
    expect(() => matmul.shape([[2, 3], [4, 5]], {})).toThrow(ShapeError);
    expect(() => matmul.shape([[2, 3], [4, 5]], {})).toThrow(/\[2, 3\] @ \[4, 5\].*3 vs 4/);
    expect(() => matmul.shape([[3], [4]], {})).toThrow(ShapeError);
    expect(() => matmul.shape([[2, 2, 3], [3, 3, 4]], {})).toThrow(/batch dimensions \[2\] and \[3\]/);
    expect(() => matmul.shape([[], [3]], {})).toThrow(/rank ≥ 1/);
    expect(matmul.shape([[5, 1, 3, 4], [2, 4, 6]], {})).toEqual([5, 2, 3, 6]);
  });

  it('has a VJP matching finite differences, including broadcast batch dims', () => {
    cases.forEach(([sa, sb], c) => checkVjp(matmul, [rand(sa, 100 + c), rand(sb, 200 + c)]));
    checkVjp(matmul, [t64([2, 2], [0, 0, 1, 0]), t64([2, 2], [0, 1, 0, 0])]);
  });

  it('skips the gradient the engine says nobody needs', () => {
    const [a, b] = [rand([2, 3, 4], 5), rand([4, 2], 6)];
    const g = rand([2, 3, 2], 7);
    const out = matmul.forward([a, b], {});
    const all = matmul.vjp([a, b], out, g, {});
    const [da, db] = matmul.vjp([a, b], out, g, {}, [false, true]);
    expect(da).toBeNull();
    expectClose(db!, all[1]!.data);
    const [da2, db2] = matmul.vjp([a, b], out, g, {}, [true, false]);
    expect(db2).toBeNull();
    expectClose(da2!, all[0]!.data);
  });

  it('gives float32 gradients that agree with float64', () => {
    const [a, b] = [rand([2, 1, 3, 4], 1), rand([5, 4, 2], 2)];
    const g = rand([2, 5, 3, 2], 3);
    const ref = matmul.vjp([a, b], matmul.forward([a, b], {}), g, {});
    const [a32, b32, g32] = [a, b, g].map((t) => cast(t, 'float32'));
    const got = matmul.vjp([a32!, b32!], matmul.forward([a32!, b32!], {}), g32!, {});
    got.forEach((t, i) => {
      expect(t!.data).toBeInstanceOf(Float32Array);
      expectClose(t!, ref[i]!.data, 1e-5);
    });
  });
});
