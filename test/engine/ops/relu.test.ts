import { describe, expect, it } from 'vitest';
import { relu } from '../../../src/engine/ops/relu.js';
import { checkKink, expectSameShape, expectTails, expectUnary } from '../../helpers/elementwise.js';
import { cast, dtypeOf, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, rand } from '../../helpers/op-check.js';

describe('relu', () => {
  it('zeroes negative values', () => {
    expectUnary(relu, [-3, -0.5, 0, 0.5, 3], [0, 0, 0, 0.5, 3]);
  });

  it('keeps the shape', () => {
    expectSameShape(relu);
  });

  it('has derivative 1 for x > 0, 0 for x < 0, and 0 at the kink as PyTorch', () => {
    checkKink(relu, 0, 0);
    checkVjp(relu, [rand([3, 4], 1, -2, 2)]);
    expectTails(relu, [[-1000, 0, 0], [1000, 1000, 1]]);
  });
});

describe('relu on its bit-level loops', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: zeroes −0 and −∞ to +0, keeps +∞, and passes g only where the output is > 0`, () => {
      const x = tensor([6], [-Infinity, -2.5, -0, 0, 1.5, Infinity], dtype);
      const y = relu.forward([x], {});
      expect(dtypeOf(y)).toBe(dtype);
      expect(Array.from(y.data)).toEqual([0, 0, 0, 0, 1.5, Infinity]);
      expect(Array.from(y.data).every((v) => !Object.is(v, -0))).toBe(true);
      const g = tensor([6], [1, 2, 3, 4, -5, Infinity], dtype);
      const [gx] = relu.vjp([x], y, g, {});
      expect(dtypeOf(gx!)).toBe(dtype);
      expect(Array.from(gx!.data)).toEqual([0, 0, 0, 0, -5, Infinity]);
    });
  }

  it('float32: every element of an array in four-element passes and a tail is max(x, 0)', () => {
    for (const n of [1, 4, 7, 11]) {
      const x = cast(rand([n], n), 'float32');
      const y = relu.forward([x], {});
      expect(Array.from(y.data)).toEqual(Array.from(x.data, (v) => Math.max(v, 0)));
    }
  });

  it('reads views at an offset and a gradient of another dtype', () => {
    const buf = new Float32Array([9, -1, 2, 9]);
    const x = { shape: [2], data: buf.subarray(1, 3) };
    const y = relu.forward([x], {});
    expect(Array.from(y.data)).toEqual([0, 2]);
    const [gx] = relu.vjp([x], y, tensor([2], [3, 4], 'float64'), {});
    expect(Array.from(gx!.data)).toEqual([0, 4]);
  });
});
