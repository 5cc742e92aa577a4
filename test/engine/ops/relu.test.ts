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

  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: NaN of either sign stays NaN and passes its gradient, as in PyTorch`, () => {
      // +NaN and the NaN x86 makes (inf − inf: sign bit set), written as bits
      const x = tensor([2], [0, 0], dtype);
      const w = new Int32Array(x.data.buffer);
      if (dtype === 'float32') [w[0], w[1]] = [0x7fc00000, 0xffc00000 | 0];
      else [w[1], w[3]] = [0x7ff80000, 0xfff80000 | 0];
      const y = relu.forward([x], {});
      expect(Array.from(y.data).every(Number.isNaN)).toBe(true);
      // torch.relu(x).backward(g) gives x.grad = g where relu(x) is NaN
      const [gx] = relu.vjp([x], y, tensor([2], [3, 4], dtype), {});
      expect(Array.from(gx!.data)).toEqual([3, 4]);
      const [mixed] = relu.vjp([x], y, tensor([2], [3, 4], dtype === 'float32' ? 'float64' : 'float32'), {});
      expect(Array.from(mixed!.data)).toEqual([3, 4]);
    });
  }

  it('float32: every element of an array in four-element passes and a tail is relu(x), its gradient g unless y ≤ 0', () => {
    const special = [Number.NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45];
    for (const n of [1, 4, 7, 11, 19]) {
      const x = cast(rand([n], n), 'float32');
      // NaN, ±∞, ±0 and ±the smallest subnormal, spread over the passes and the tail
      for (let i = 0; i < n; i += 2) x.data[i] = special[(i / 2 + n) % special.length]!;
      const y = relu.forward([x], {});
      expect(Array.from(y.data)).toEqual(Array.from(x.data, (v) => (Number.isNaN(v) ? v : Math.max(v, 0) + 0)));
      const g = cast(rand([n], n + 100, 1, 2), 'float32');
      const [gx] = relu.vjp([x], y, g, {});
      expect(Array.from(gx!.data)).toEqual(Array.from(y.data, (v, i) => (v <= 0 ? 0 : g.data[i]!)));
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
