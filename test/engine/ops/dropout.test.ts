import { describe, expect, it } from 'vitest';
import { dropout, mulberry32At } from '../../../src/engine/ops/dropout.js';
import { cast } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, rng, t64 } from '../../helpers/op-check.js';

describe('dropout', () => {
  const x = rand([4, 5], 1, 0.5, 1.5); // no zeros, so a zero in the output means "dropped"
  const run = (attrs: object, t = x) => dropout.forward([t], dropout.parseAttrs(attrs));

  it('defaults to p = 0.5 and seed 0, and validates 0 ≤ p ≤ 1', () => {
    expect(dropout.parseAttrs({})).toEqual({ p: 0.5, seed: 0 });
    expect(() => dropout.parseAttrs({ p: -0.1 })).toThrow();
    expect(() => dropout.parseAttrs({ p: 1.5 })).toThrow();
    expect(() => dropout.parseAttrs({ seed: -1 })).toThrow();
    expect(() => dropout.parseAttrs({ seed: 1.5 })).toThrow();
  });

  it('is the identity for p = 0 and all zeros for p = 1', () => {
    expectClose(run({ p: 0 }), x.data);
    expectClose(run({ p: 1 }), new Array(20).fill(0));
  });

  it('zeroes elements and scales the kept ones by 1/(1 − p)', () => {
    const y = run({ p: 0.25, seed: 3 });
    let kept = 0;
    y.data.forEach((v, i) => {
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(x.data[i]! / 0.75, 12);
      }
    });
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(20);
    const big = run({ p: 0.3, seed: 9 }, t64([20000], () => 1));
    const dropped = big.data.filter((v) => v === 0).length / 20000;
    expect(Math.abs(dropped - 0.3)).toBeLessThan(0.015);
  });

  it('is deterministic for a seed, and the mask is the sequence of a mulberry32 seeded with it', () => {
    expect(run({ seed: 42 }).data).toEqual(run({ seed: 42 }).data);
    expect(run({ seed: 42 }).data).not.toEqual(run({ seed: 43 }).data);
    const draws = rng(42);
    const y = run({ p: 0.5, seed: 42 });
    x.data.forEach((_, i) => expect(y.data[i] !== 0).toBe(draws() >= 0.5));
    expect(mulberry32At(7, 0)).toBe(rng(7)());
    const y32 = run({ p: 0.5, seed: 42 }, cast(x, 'float32'));
    expect(y32.data).toBeInstanceOf(Float32Array);
    expectClose(y32, y.data, 1e-6);
  });

  it('has a VJP using the same mask, matching finite differences', () => {
    const attrs = dropout.parseAttrs({ p: 0.4, seed: 5 });
    const y = dropout.forward([x], attrs);
    const [gx] = dropout.vjp([x], y, t64(x.shape, () => 1), attrs);
    gx!.data.forEach((v, i) => expect(v).toBeCloseTo(y.data[i]! / x.data[i]!, 12));
    checkVjp(dropout, [rand([3, 4], 2)], { p: 0.4, seed: 5 });
    checkVjp(dropout, [t64([3], [0, 1, -1])], { p: 0.5, seed: 1 });
    checkVjp(dropout, [rand([3], 3)], { p: 1 });
  });
});
