import { describe, expect, it } from 'vitest';
import { pow } from '../../../src/engine/ops/pow.js';
import { expectBroadcastShape, expectSame, localPartials } from '../../helpers/elementwise.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('pow', () => {
  it('raises elementwise with broadcasting', () => {
    const out = pow.forward([t64([2, 2], [2, 9, -2, 0]), t64([2], [3, 0.5])], {});
    expect(out.shape).toEqual([2, 2]);
    expectClose(out, [8, 3, -8, 0]);
    expectClose(pow.forward([t64([2], [4, -3]), t64([], [-1])], {}), [0.25, -1 / 3]);
  });

  it('follows PyTorch at the edges: 0⁰ = 1, 0⁻¹ = inf, NaN for a negative base with a non-integer exponent', () => {
    const out = pow.forward([t64([4], [0, 0, -8, -2]), t64([4], [0, -1, 1 / 3, 2])], {});
    expect(out.data[0]).toBe(1);
    expect(out.data[1]).toBe(Infinity);
    expect(out.data[2]).toBeNaN();
    expect(out.data[3]).toBe(4);
  });

  it('has a broadcasting shape rule that rejects mismatches', () => {
    expectBroadcastShape(pow);
  });

  it('has partials b·aᵇ⁻¹ and aᵇ·ln a', () => {
    const [da, db] = localPartials(pow, 2, 3);
    expectSame(da, 12);
    expectSame(db, 8 * Math.LN2);
    // a negative base with an integer exponent: the base's partial is finite, the exponent's is NaN (ln a)
    const [dan, dbn] = localPartials(pow, -2, 3);
    expectSame(dan, 12);
    expect(dbn).toBeNaN();
  });

  it('masks the 0·∞ partials to 0 where PyTorch does', () => {
    // b = 0: the base's partial is 0 even at a = 0 (0·0⁻¹ would be NaN)
    expect(localPartials(pow, 0, 0)[0]).toBe(0);
    expect(localPartials(pow, 5, 0)[0]).toBe(0);
    // a = 0, b ≥ 0: the exponent's partial is 0 (0ᵇ·ln 0 would be NaN)
    expect(localPartials(pow, 0, 0)[1]).toBe(0);
    expect(localPartials(pow, 0, 2.5)[1]).toBe(0);
    // a = 0, b < 0 is not masked: aᵇ = ∞, so both partials are infinite, as in PyTorch
    expect(localPartials(pow, 0, -1)).toEqual([-Infinity, -Infinity]);
    // 0 < b < 1 at a = 0: b·aᵇ⁻¹ = +∞, as PyTorch
    expect(localPartials(pow, 0, 0.5)[0]).toBe(Infinity);
  });

  it('squares as one product, whatever the base, with the partials of any other exponent', () => {
    const a = [-3, -0.1, -0, 0, 0.1, 1.7, 1e200, Infinity, NaN];
    const out = pow.forward([t64([a.length], a), t64([], [2])], {});
    a.forEach((x, i) => expect(Object.is(out.data[i], x * x)).toBe(true));
    expect(localPartials(pow, -3, 2)).toEqual([-6, 9 * Math.log(-3)]);
    expect(localPartials(pow, 1.5, 2)[0]).toBe(3);
    checkVjp(pow, [rand([2, 3], 9, 0.5, 2), t64([], [2])]);
  });

  it('computes a cube, reciprocals and square roots without pow, as pow would, signed zeros and infinities included', () => {
    const bases = [-3, -0.1, -0, 0, 0.1, 0.7, 1.7, 1e100, 1e-200, -Infinity, Infinity, NaN];
    for (const b of [3, -1, -2, 0.5, -0.5]) {
      const out = pow.forward([t64([bases.length], bases), t64([], [b])], {});
      bases.forEach((a, i) => {
        const want = Math.pow(a, b);
        const got = out.data[i]!;
        if (Number.isFinite(want) && want !== 0) expect(Math.abs(got - want) / Math.abs(want), `${a} ** ${b}`).toBeLessThan(4e-16);
        else expect(Object.is(got, want), `${a} ** ${b}: ${got} against ${want}`).toBe(true);
      });
      bases.forEach((a) => {
        const want = b * Math.pow(a, b - 1);
        const got = localPartials(pow, a, b)[0];
        if (Number.isFinite(want) && want !== 0) expect(Math.abs(got - want) / Math.abs(want), `d(${a} ** ${b})`).toBeLessThan(4e-16);
        else expect(Object.is(got, want), `d(${a} ** ${b}): ${got} against ${want}`).toBe(true);
      });
      checkVjp(pow, [rand([2, 3], 10, 0.5, 2), t64([], [b])]);
    }
  });

  it('has a VJP matching finite differences for positive bases, at a = 0 with b > 1, and across broadcasting', () => {
    checkVjp(pow, [rand([2, 3], 1, 0.5, 2), rand([2, 3], 2, -2, 2)]);
    checkVjp(pow, [rand([2, 3], 3, 0.5, 2), rand([3], 4, -1, 3)]);
    checkVjp(pow, [rand([4, 1], 5, 0.5, 2), rand([1, 5], 6)]);
    checkVjp(pow, [rand([2, 2], 7, 0.5, 2), t64([], [0])]);
    // a = 0 with b > 1, where both partials are 0 (the exponent's through the mask), and b = 0 (the base's mask)
    checkVjp(pow, [t64([3], [0, 0, 1.5]), t64([3], [2, 3, 0])]);
  });
});
