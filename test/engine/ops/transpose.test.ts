import { describe, expect, it } from 'vitest';
import { transpose } from '../../../src/engine/ops/transpose.js';
import { ShapeError } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('transpose', () => {
  const x = t64([2, 3], [1, 2, 3, 4, 5, 6]);

  it('reverses the axes by default', () => {
    const y = transpose.forward([x], transpose.parseAttrs({}));
    expect(y.shape).toEqual([3, 2]);
    expectClose(y, [1, 4, 2, 5, 3, 6]);
    expect(transpose.shape([[2, 3, 4]], transpose.parseAttrs({}))).toEqual([4, 3, 2]);
    expectClose(transpose.forward([t64([], [7])], transpose.parseAttrs({})), [7]);
  });

  it('permutes by perm, negative axes allowed (torch.permute)', () => {
    const t = t64([2, 3, 2], (i) => i);
    const y = transpose.forward([t], transpose.parseAttrs({ perm: [1, 0, -1] }));
    expect(y.shape).toEqual([3, 2, 2]);
    // y[j, i, k] = t[i, j, k] = 6i + 2j + k
    expectClose(y, [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
    const z = transpose.forward([t], transpose.parseAttrs({ perm: [2, 0, 1] }));
    expect(z.shape).toEqual([2, 2, 3]);
    expectClose(z, [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]);
  });

  it('moves every element where its index says, for every permutation of 4 axes (fixed trailing axes copied as runs, by the SIMD kernel from 1024 elements and runs of 4), float32 and float64, empty tensors included', () => {
    const perms: number[][] = [];
    const build = (prefix: number[]) => {
      if (prefix.length === 4) perms.push(prefix);
      for (let a = 0; a < 4; a++) if (!prefix.includes(a)) build([...prefix, a]);
    };
    build([]);
    // 5·6·8·7: runs of 7, 56, 336 elements (whole vectors and a tail of either dtype)
    const cases: [number[], boolean][] = [[[2, 3, 4, 5], false], [[3, 1, 2, 4], false], [[2, 0, 3, 2], false], [[5, 6, 8, 7], false], [[5, 6, 8, 7], true]];
    for (const [dims, f32] of cases) {
      const t64d = t64(dims, (i) => i);
      const t = f32 ? { shape: t64d.shape, data: Float32Array.from(t64d.data) } : t64d;
      for (const perm of perms) {
        const y = transpose.forward([t], transpose.parseAttrs({ perm }));
        const shape = perm.map((p) => dims[p]!);
        expect(y.shape).toEqual(shape);
        const expected: number[] = [];
        for (let a = 0; a < shape[0]!; a++) for (let b = 0; b < shape[1]!; b++) for (let c = 0; c < shape[2]!; c++) for (let d = 0; d < shape[3]!; d++) {
          const idx = [0, 0, 0, 0];
          [a, b, c, d].forEach((v, k) => (idx[perm[k]!] = v));
          expected.push(((idx[0]! * dims[1]! + idx[1]!) * dims[2]! + idx[2]!) * dims[3]! + idx[3]!);
        }
        expect(y.data).toBeInstanceOf(f32 ? Float32Array : Float64Array);
        expect([...y.data], `dims ${dims} perm ${perm}`).toEqual(expected);
      }
    }
  });

  it('rejects a perm that is not a permutation of the axes', () => {
    const shape = (perm: number[]) => transpose.shape([[2, 3, 4]], transpose.parseAttrs({ perm }));
    expect(() => shape([0, 1])).toThrow(/perm \[0, 1\] has 2 axes but the input \[2, 3, 4\] has 3/);
    expect(() => shape([0, 1, 1])).toThrow(/axis 1 appears more than once/);
    expect(() => shape([0, 1, -4])).toThrow(ShapeError);
    expect(() => shape([0, 1, 3])).toThrow(/axis 3 is out of range for shape \[2, 3, 4\]/);
    expect(() => transpose.parseAttrs({ perm: [0], axes: [0] })).toThrow();
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(transpose, [rand([2, 3, 4], 1)], { perm: [2, 0, 1] });
    checkVjp(transpose, [rand([3, 4], 2)]);
    checkVjp(transpose, [rand([2, 1, 3, 2], 3)], { perm: [3, 1, 0, 2] });
  });
});
