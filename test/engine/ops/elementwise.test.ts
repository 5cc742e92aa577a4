import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { binaryOp, unaryOp } from '../../../src/engine/ops/elementwise.js';
import { dtypeOf, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Ops made only for these tests, so that the factories are checked apart from any real op.
const scaledCube = unaryOp({
  name: 'scaled_cube',
  attrs: z.strictObject({ k: z.number().default(2).describe('factor') }),
  summary: 'k·x³',
  derivative: '3k·x²',
  f: (x, { k }) => k * x * x * x,
  df: (x, _y, { k }) => 3 * k * x * x,
});

const fromOutput = unaryOp({
  name: 'exp_via_output',
  summary: 'eˣ',
  derivative: 'eˣ',
  f: (x) => Math.exp(x),
  df: (_x, y) => y,
});

const affine = binaryOp({
  name: 'affine',
  summary: 'a·b + a',
  derivative: '∂/∂a = b + 1, ∂/∂b = a',
  f: (a, b) => a * b + a,
  da: (_a, b) => b + 1,
  db: (a) => a,
});

describe('unaryOp', () => {
  it('maps every element and fills attrs defaults', () => {
    const x = t64([2, 2], [1, -2, 0, 0.5]);
    expectClose(scaledCube.forward([x], scaledCube.parseAttrs({})), [2, -16, 0, 0.25]);
    expectClose(scaledCube.forward([x], scaledCube.parseAttrs({ k: -1 })), [-1, 8, -0, -0.125]);
    expect(() => scaledCube.parseAttrs({ k: 1, extra: 2 })).toThrow();
  });

  it('returns a new tensor of the input dtype and shape, leaving the input alone', () => {
    const x = tensor([3], [1, 2, 3], 'float32');
    const out = scaledCube.forward([x], { k: 1 });
    expect(dtypeOf(out)).toBe('float32');
    expect(out.shape).toEqual([3]);
    expect(out.data).not.toBe(x.data);
    expect(Array.from(x.data)).toEqual([1, 2, 3]);
    const [gx] = scaledCube.vjp([x], out, tensor([3], [1, 1, 1], 'float32'), { k: 1 });
    expect(dtypeOf(gx!)).toBe('float32');
    expectClose(gx!, [3, 12, 27]);
  });

  it('multiplies the upstream gradient by the local derivative, from the input or the output', () => {
    checkVjp(scaledCube, [rand([3, 4], 1, -2, 2)], { k: 0.5 });
    checkVjp(fromOutput, [rand([5], 2, -3, 3)]);
    checkVjp(fromOutput, [t64([], [0])]);
  });
});

describe('binaryOp', () => {
  it('broadcasts in forward and gives the output dtype of the first operand', () => {
    const out = affine.forward([tensor([2, 1], [1, 2], 'float32'), t64([3], [0, 1, 2])], {});
    expect(out.shape).toEqual([2, 3]);
    expect(dtypeOf(out)).toBe('float32');
    expectClose(out, [1, 2, 3, 2, 4, 6]);
  });

  it('returns both gradients in the broadcast output shape, for the engine to sum back', () => {
    const a = t64([2, 1], [1, 2]);
    const b = t64([3], [0, 1, 2]);
    const out = affine.forward([a, b], {});
    const [ga, gb] = affine.vjp([a, b], out, t64([2, 3], [1, 1, 1, 1, 1, 1]), {});
    expect(ga!.shape).toEqual([2, 3]);
    expect(gb!.shape).toEqual([2, 3]);
    expectClose(ga!, [1, 2, 3, 1, 2, 3]);
    expectClose(gb!, [1, 1, 1, 2, 2, 2]);
  });

  it('computes only the gradient the engine needs, equal to the full VJP\'s, and null for the other', () => {
    for (const [sa, sb] of [
      [[6], [6]],
      [[2, 3], []],
      [[], [2, 3]],
      [[1], [4]],
    ] as const) {
      const [a, b] = [rand([...sa], 1), rand([...sb], 2)];
      const out = affine.forward([a, b], {});
      const g = rand(out.shape, 3);
      const [ga, gb] = affine.vjp([a, b], out, g, {});
      const onlyA = affine.vjp([a, b], out, g, {}, [true, false]);
      const onlyB = affine.vjp([a, b], out, g, {}, [false, true]);
      expect(onlyA[1]).toBeNull();
      expect(onlyB[0]).toBeNull();
      expect(onlyA[0]).toEqual(ga);
      expect(onlyB[1]).toEqual(gb);
    }
    // operands broadcast against each other: both come back, as without `needs`
    const [a, b] = [rand([2, 3], 1), rand([3], 2)];
    const out = affine.forward([a, b], {});
    expect(affine.vjp([a, b], out, rand([2, 3], 3), {}, [true, false]).every((x) => x !== null)).toBe(true);
  });

  it('has a VJP matching finite differences under every broadcasting pattern', () => {
    checkVjp(affine, [rand([2, 3], 1), rand([2, 3], 2)]);
    checkVjp(affine, [rand([2, 3], 3), rand([3], 4)]);
    checkVjp(affine, [rand([4, 1], 5), rand([1, 5], 6)]);
    checkVjp(affine, [t64([], [0]), rand([2, 2], 7)]);
    checkVjp(affine, [rand([2, 2], 8), t64([], [0])]);
  });
});
