import { describe, expect, it } from 'vitest';
import { linear } from '../../../src/engine/ops/linear.js';
import { cast, ShapeError, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { gemmBackends, useGemmBackend } from './gemm-backends.js';

/** y[r, o] = Σ_i x[r, i] W[o, i] + b[o], with plain loops. */
function naive(x: Tensor, w: Tensor, b?: Tensor): number[] {
  const [outF, inF] = w.shape as [number, number];
  const rows = x.data.length / inF;
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b.data[o]! : 0;
      for (let i = 0; i < inF; i++) s += x.data[r * inF + i]! * w.data[o * inF + i]!;
      y.push(s);
    }
  }
  return y;
}

describe.each(gemmBackends())('linear on the %s gemm', (_name, backend) => {
  useGemmBackend(backend);

  const x = t64([2, 2], [1, 2, 3, 4]);
  const w = t64([3, 2], [1, 0, 0, 1, 1, 1]);
  const b = t64([3], [0.5, -1, 2]);

  it('computes x · Wᵀ + b (hand-computed)', () => {
    const y = linear.forward([x, w, b], {});
    expect(y.shape).toEqual([2, 3]);
    expectClose(y, [1.5, 1, 5, 3.5, 3, 9]);
    expectClose(linear.forward([x, w], {}), [1, 2, 3, 3, 4, 7]);
  });

  it('accepts any leading dims, and a 1-D input, as nn.Linear', () => {
    expect(linear.shape([[2], [3, 2], [3]], {})).toEqual([3]);
    expectClose(linear.forward([t64([2], [1, 2]), w, b], {}), [1.5, 1, 5]);
    const x3 = rand([2, 4, 5], 1);
    const [w3, b3] = [rand([3, 5], 2), rand([3], 3)];
    expect(linear.shape([x3.shape, w3.shape, b3.shape], {})).toEqual([2, 4, 3]);
    expectClose(linear.forward([x3, w3, b3], {}), naive(x3, w3, b3), 1e-12);
  });

  it('rejects shapes that do not fit, naming the input', () => {
    expect(() => linear.shape([[2, 3], [4, 2]], {})).toThrow(/input \[2, 3\] must end in in_features 2/);
    expect(() => linear.shape([[2, 3], [3]], {})).toThrow(/weight must be 2-D/);
    expect(() => linear.shape([[2, 3], [4, 3], [3]], {})).toThrow(/bias must have shape \[4\]/);
    expect(() => linear.shape([[], [4, 3]], {})).toThrow(ShapeError);
    try {
      linear.shape([[2, 3], [4, 3], [4, 1]], {});
      expect.unreachable();
    } catch (e) {
      expect((e as ShapeError).input).toBe(2);
    }
  });

  it('has a VJP matching finite differences, with and without bias', () => {
    checkVjp(linear, [rand([3, 4], 1), rand([5, 4], 2), rand([5], 3)]);
    checkVjp(linear, [rand([2, 3, 4], 4), rand([2, 4], 5)]);
    checkVjp(linear, [rand([4], 6), rand([3, 4], 7), rand([3], 8)]);
    checkVjp(linear, [t64([2, 2], [0, 0, 0, 1]), t64([1, 2], [0, 0]), t64([1], [0])]);
    expect(linear.vjp([x, w], linear.forward([x, w], {}), rand([2, 3], 9), {})).toHaveLength(2);
  });

  it('skips the gradients the engine says nobody needs, and computes the others unchanged', () => {
    const g = rand([2, 3], 10);
    const y = linear.forward([x, w, b], {});
    const all = linear.vjp([x, w, b], y, g, {});
    const [dx, dw, db] = linear.vjp([x, w, b], y, g, {}, [false, true, true]);
    expect(dx).toBeNull();
    expectClose(dw!, all[1]!.data);
    expectClose(db!, all[2]!.data);
    const only = linear.vjp([x, w, b], y, g, {}, [true, false, false]);
    expect(only[1]).toBeNull();
    expect(only[2]).toBeNull();
    expectClose(only[0]!, all[0]!.data);
  });

  it('gives the bias gradient as the column sums of g, for row counts in and out of its eight-row passes', () => {
    for (const rows of [1, 7, 8, 9, 17, 33]) {
      const g = rand([rows, 3], rows);
      const [, , db] = linear.vjp([rand([rows, 2], 1), w, b], rand([rows, 3], 2), g, {}, [false, false, true]);
      const sums = [0, 1, 2].map((j) => Array.from({ length: rows }, (_, r) => g.data[r * 3 + j]!).reduce((a, v) => a + v, 0));
      expectClose(db!, sums, 1e-12);
    }
  });

  it('agrees with the float64 reference in float32, at MLP-like sizes', () => {
    const [x64, w64, b64] = [rand([32, 64], 11), rand([16, 64], 12), rand([16], 13)];
    const g64 = rand([32, 16], 14);
    const [x32, w32, b32, g32] = [x64, w64, b64, g64].map((t) => cast(t, 'float32')) as Tensor[];
    const y32 = linear.forward([x32!, w32!, b32!], {});
    expect(y32.data).toBeInstanceOf(Float32Array);
    expectClose(y32, naive(x64, w64, b64), 1e-5);
    const ref = linear.vjp([x64, w64, b64], linear.forward([x64, w64, b64], {}), g64, {});
    const got = linear.vjp([x32!, w32!, b32!], y32, g32!, {});
    got.forEach((t, i) => {
      expect(t!.data).toBeInstanceOf(Float32Array);
      expectClose(t!, ref[i]!.data, 1e-5);
    });
  });
});
