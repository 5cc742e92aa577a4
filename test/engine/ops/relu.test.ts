import { describe, expect, it } from 'vitest';
import { relu } from '../../../src/engine/ops/relu.js';
import { checkKink, expectSameShape, expectTails, expectUnary } from '../../helpers/elementwise.js';
import { cast, dtypeOf, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, rand, rng } from '../../helpers/op-check.js';
import { ELEMENTWISE_MIN, reluF32, reluGradF32 } from '../../../src/engine/kernels/index.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

ensureWasmBuilt();

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

describe('relu on the WebAssembly SIMD kernel (float32, from 1024 elements)', () => {
  // Float32 bit patterns that stress the masks: NaNs of both signs with payloads, ±∞, ±0, subnormals,
  // and ordinary values of both signs.
  const SPECIAL = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x80000001, 0x3f800000, 0xbf800000];
  function bits(n: number, seed: number): Int32Array {
    const next = rng(seed);
    return Int32Array.from({ length: n }, () => (next() < 0.3 ? SPECIAL[Math.floor(next() * SPECIAL.length)]! : Math.floor(next() * 2 ** 32)) | 0);
  }
  // the rules, written independently of both implementations: relu keeps a NaN's bits and a positive
  // value, else gives +0; the gradient passes g's bits where y is NaN or > 0, else +0
  const isNaN32 = (b: number) => (b & 0x7fffffff) > 0x7f800000;
  const reluBits = (b: number) => (isNaN32(b) || b > 0 ? b : 0);
  const passes = (yb: number) => isNaN32(yb) || (yb > 0 && yb !== 0);
  const f32 = (b: Int32Array) => new Float32Array(b.buffer, b.byteOffset, b.length);
  const i32 = (f: Float32Array) => Array.from(new Int32Array(f.buffer, f.byteOffset, f.length));

  // around the kernel's 4-lane passes (its scalar tail) and its 8192-element chunks
  const SIZES = [1024, 1025, 1029, 1030, 1031, 8191, 8192, 8193, 3 * 8192 + 7];

  it('declines below 1024 elements, leaving them to the JS loops', () => {
    const few = new Float32Array(ELEMENTWISE_MIN - 1);
    expect(reluF32(few, few.slice())).toBe(false);
    expect(reluGradF32(few, few, few.slice())).toBe(false);
  });

  it('gives every element the bits of the rule, forward and backward, at any length from 1024', () => {
    for (const n of SIZES) {
      const xb = bits(n, n);
      const x = f32(xb);
      const y = new Float32Array(n);
      expect(reluF32(x, y)).toBe(true);
      expect(i32(y)).toEqual(Array.from(xb, reluBits));
      const gb = bits(n, n + 7);
      const gx = new Float32Array(n).fill(123);
      expect(reluGradF32(y, f32(gb), gx)).toBe(true);
      const yb = new Int32Array(y.buffer);
      expect(i32(gx)).toEqual(Array.from(gb, (b, i) => (passes(yb[i]!) ? b : 0)));
    }
  });

  it('the op gives the same bits on the kernel (≥ 1024 elements) as on its JS loops (below)', () => {
    // one array cut into pieces under and over the threshold: the pieces must agree with the whole
    const n = 4096 + 11;
    const xb = bits(n, 99);
    const x = { shape: [n], data: f32(xb) };
    const whole = relu.forward([x], {});
    const g = { shape: [n], data: f32(bits(n, 100)) };
    const [gWhole] = relu.vjp([x], whole, g, {});
    for (let s = 0; s < n; s += 1000) {
      const e = Math.min(n, s + 1000); // under the threshold: the JS loops
      const part = { shape: [e - s], data: x.data.subarray(s, e) };
      const y = relu.forward([part], {});
      expect(i32(y.data as Float32Array)).toEqual(i32(whole.data.subarray(s, e) as Float32Array));
      const [gx] = relu.vjp([part], y, { shape: [e - s], data: g.data.subarray(s, e) }, {});
      expect(i32(gx!.data as Float32Array)).toEqual(i32(gWhole!.data.subarray(s, e) as Float32Array));
    }
  });

  it('reads views at an offset', () => {
    const buf = f32(bits(3000, 5));
    const x = buf.subarray(7, 2007);
    const y = new Float32Array(2000);
    reluF32(x, y);
    expect(i32(y)).toEqual(Array.from(new Int32Array(buf.buffer, 28, 2000), reluBits));
  });
});
