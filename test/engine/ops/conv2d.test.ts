import { describe, expect, it } from 'vitest';
import { Cancelled, cancellable } from '../../../src/engine/cancel.js';
import { conv2d } from '../../../src/engine/ops/conv2d.js';
import { cast, clone, ShapeError, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { gemmBackends, useGemmBackend } from './gemm-backends.js';
import { naiveConv2d, type NaiveConv } from './naive-conv.js';

const attrs = (raw: unknown) => conv2d.parseAttrs(raw);

/** Forward and all three gradients against the loop definition, for one configuration. */
function expectNaive(x: Tensor, w: Tensor, b: Tensor | undefined, raw: unknown, p: Omit<NaiveConv, 'oh' | 'ow'>, tol = 1e-12) {
  const a = attrs(raw);
  const inputs = b ? [x, w, b] : [x, w];
  const y = conv2d.forward(inputs, a);
  const [oh, ow] = y.shape.slice(-2) as [number, number];
  const g = rand(y.shape, 99);
  const ref = naiveConv2d(x, w, b, { ...p, oh, ow }, g);
  expectClose(y, ref.y, tol);
  const grads = conv2d.vjp(inputs, y, g, a);
  expectClose(grads[0]!, ref.dx, tol);
  expectClose(grads[1]!, ref.dw, tol);
  if (b) expectClose(grads[2]!, ref.db, tol);
  return y;
}

const plain = { stride: [1, 1], pad: [0, 0], dilation: [1, 1], groups: 1 } as const;

describe.each(gemmBackends())('conv2d on the %s gemm', (_name, backend) => {
  useGemmBackend(backend);

  it('computes a cross-correlation (hand-computed), with bias', () => {
    const x = t64([1, 1, 3, 3], (i) => i + 1);
    const w = t64([1, 1, 2, 2], [1, 0, 0, -1]);
    const y = conv2d.forward([x, w, t64([1], [0.5])], attrs({}));
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // x[i, j] − x[i + 1, j + 1] = −4 everywhere
    expectClose(y, [-3.5, -3.5, -3.5, -3.5]);
    // padding 1: the corners see one tap each
    const yp = conv2d.forward([x, w], attrs({ padding: 1 }));
    expect(yp.shape).toEqual([1, 1, 4, 4]);
    expectClose(yp, [-1, -2, -3, 0, -4, -4, -4, 3, -7, -4, -4, 6, 0, 7, 8, 9]);
  });

  it('matches the loop definition with stride, padding pairs, dilation, groups and depthwise', () => {
    const x = rand([2, 4, 7, 6], 1);
    expectNaive(x, rand([3, 4, 3, 3], 2), rand([3], 3), {}, plain);
    expectNaive(x, rand([6, 2, 3, 2], 4), rand([6], 5), { stride: [2, 1], padding: [1, 2], groups: 2 }, {
      stride: [2, 1], pad: [1, 2], dilation: [1, 1], groups: 2,
    });
    expectNaive(x, rand([5, 4, 2, 3], 6), undefined, { stride: 3, padding: 2, dilation: [2, 1] }, {
      stride: [3, 3], pad: [2, 2], dilation: [2, 1], groups: 1,
    });
    // stride 1 without width padding (the unrolled rows as wide as the input's), padding the height only
    expectNaive(x, rand([4, 2, 3, 2], 45), rand([4], 46), { padding: [2, 0], dilation: [1, 2], groups: 2 }, {
      stride: [1, 1], pad: [2, 0], dilation: [1, 2], groups: 2,
    });
    // depthwise with a channel multiplier of 2
    expectNaive(x, rand([8, 1, 3, 3], 7), rand([8], 8), { groups: 4, padding: 1 }, { ...plain, pad: [1, 1], groups: 4 });
    // 1×1, and a kernel as large as the padded input
    expectNaive(x, rand([2, 4, 1, 1], 9), undefined, {}, plain);
    expectNaive(x, rand([2, 4, 9, 8], 10), undefined, { padding: 1 }, { ...plain, pad: [1, 1] });
  });

  it('pads "same" as torch: output as large as the input, the odd zero after', () => {
    const x = rand([1, 2, 5, 6], 11);
    // total padding 3 (even kernel 4) → 1 before, 2 after; dilation 2 of a 3×3 → 2 each side
    const y = expectNaive(x, rand([3, 2, 4, 4], 12), undefined, { padding: 'same' }, { ...plain, pad: [1, 1] });
    expect(y.shape).toEqual([1, 3, 5, 6]);
    expect(
      expectNaive(x, rand([3, 2, 3, 3], 13), undefined, { padding: 'same', dilation: 2 }, { ...plain, pad: [2, 2], dilation: [2, 2] }).shape,
    ).toEqual([1, 3, 5, 6]);
    // an even kernel pads only after: those taps read zeros, whatever an earlier call left in the workspace
    expectNaive(x, rand([3, 2, 2, 2], 47), undefined, { padding: 'same' }, plain);
    expect(conv2d.shape([[1, 2, 5, 6], [3, 2, 4, 4]], attrs({ padding: 'valid' }))).toEqual([1, 3, 2, 3]);
  });

  it('takes an unbatched [C, H, W] input and gives [O, Ho, Wo]', () => {
    const x = rand([2, 4, 5], 14);
    const w = rand([3, 2, 2, 2], 15);
    const y = conv2d.forward([x, w], attrs({ stride: 2 }));
    expect(y.shape).toEqual([3, 2, 2]);
    const batched = conv2d.forward([{ shape: [1, 2, 4, 5], data: x.data }, w], attrs({ stride: 2 }));
    expectClose(y, batched.data);
    checkVjp(conv2d, [x, w, rand([3], 16)], { stride: 2, padding: [0, 1] });
  });

  it('bands the unrolled input of a large kernel over a large image, with the same values', () => {
    // 32·32 taps × 64·64 positions is past the bound on the unrolled matrix: bands of output rows
    const x = rand([1, 1, 95, 95], 17);
    expectNaive(x, rand([2, 1, 32, 32], 18), rand([2], 19), {}, plain, 1e-10);
    // and "same" with stride 1, where each tap's rows are copied as one shifted run
    expectNaive(rand([1, 1, 64, 64], 40), rand([1, 1, 33, 33], 41), undefined, { padding: 'same' }, { ...plain, pad: [16, 16] }, 1e-10);
  });

  it('has a VJP matching finite differences, through padding, stride, dilation and groups, and at zeros', () => {
    checkVjp(conv2d, [rand([2, 2, 4, 5], 20), rand([3, 2, 2, 3], 21), rand([3], 22)], { padding: 1 });
    checkVjp(conv2d, [rand([1, 4, 5, 5], 23), rand([4, 2, 3, 2], 24)], { stride: [2, 1], dilation: [1, 2], groups: 2 });
    checkVjp(conv2d, [rand([2, 3, 4, 4], 25), rand([3, 1, 3, 3], 26), rand([3], 27)], { groups: 3, padding: 'same' });
    checkVjp(conv2d, [rand([1, 1, 4, 4], 28), t64([1, 1, 2, 2], [0, 0, 0, 0]), t64([1], [0])], { padding: [0, 1] });
    // stride 1 without width padding: output rows laid out as wide as the input's
    checkVjp(conv2d, [rand([2, 2, 4, 6], 42), rand([3, 2, 2, 3], 43), rand([3], 44)], { padding: [1, 0], dilation: [1, 2] });
    checkVjp(conv2d, [t64([1, 1, 3, 3], () => 0), rand([2, 1, 2, 2], 29)], { stride: 2, padding: 1 });
  });

  it('skips the gradients nobody needs and accumulates into the engine\'s gradients so far', () => {
    const [x, w, b] = [rand([2, 2, 4, 4], 30), rand([3, 2, 3, 3], 31), rand([3], 32)];
    const a = attrs({ padding: 1 });
    const y = conv2d.forward([x, w, b], a);
    const g = rand(y.shape, 33);
    const all = conv2d.vjp([x, w, b], y, g, a);
    const some = conv2d.vjp([x, w, b], y, g, a, [false, true, false]);
    expect(some[0]).toBeNull();
    expect(some[2]).toBeNull();
    expectClose(some[1]!, all[1]!.data);
    // the bias alone: its sums still go through the blocks, with no unrolling
    const bias = conv2d.vjp([x, w, b], y, g, a, [false, false, true]);
    expect(bias.slice(0, 2)).toEqual([null, null]);
    expectClose(bias[2]!, all[2]!.data);
    const so = [rand(x.shape, 34), rand(w.shape, 35)];
    const before = so.map((t) => Array.from(t.data));
    const got = conv2d.vjp([x, w, b], y, g, a, [true, true, true], [so[0], so[1]]);
    expect(got[0]).toBe(so[0]);
    expect(got[1]).toBe(so[1]);
    expectClose(got[0]!, before[0]!.map((v, i) => v + all[0]!.data[i]!));
    expectClose(got[1]!, before[1]!.map((v, i) => v + all[1]!.data[i]!));
  });

  it('computes a dilation far beyond the input ("same" pads its whole reach) from the taps inside it, in float32 too', () => {
    // only the centre tap of each 3 × 3 kernel falls inside; padded out as the reach, the input's
    // 2 × 2 planes would take 40,002 × 40,004 elements each
    const [x, w, b] = [rand([2, 1, 2, 2], 50), rand([3, 1, 3, 3], 51), rand([3], 52)];
    const y = expectNaive(x, w, b, { padding: 'same', dilation: 20_000 }, { ...plain, pad: [20_000, 20_000], dilation: [20_000, 20_000] });
    expect(y.shape).toEqual([2, 3, 2, 2]);
    const a = attrs({ padding: 'same', dilation: 20_000 });
    const g = rand(y.shape, 53);
    const ref = conv2d.vjp([x, w, b], y, g, a);
    const [x32, w32, b32, g32] = [x, w, b, g].map((t) => cast(t, 'float32')) as Tensor[];
    const got = conv2d.vjp([x32!, w32!, b32!], conv2d.forward([x32!, w32!, b32!], a), g32!, a);
    got.forEach((t, i) => expectClose(t!, ref[i]!.data, 1e-5));
  });

  it('agrees with the float64 values in float32', () => {
    const [x, w, b] = [rand([4, 3, 12, 12], 36), rand([8, 3, 5, 5], 37), rand([8], 38)];
    const a = attrs({ padding: 2 });
    const y64 = conv2d.forward([x, w, b], a);
    const g64 = rand(y64.shape, 39);
    const ref = conv2d.vjp([x, w, b], y64, g64, a);
    const [x32, w32, b32, g32] = [x, w, b, g64].map((t) => cast(t, 'float32')) as Tensor[];
    const y32 = conv2d.forward([x32!, w32!, b32!], a);
    expect(y32.data).toBeInstanceOf(Float32Array);
    expectClose(y32, y64.data, 1e-5);
    conv2d.vjp([x32!, w32!, b32!], y32, g32!, a).forEach((t, i) => {
      expect(t!.data).toBeInstanceOf(Float32Array);
      expectClose(t!, ref[i]!.data, 1e-4);
    });
  });

  describe('float32, one input channel a group (the weight gradient without the unrolled matrix)', () => {
    /** Each element within 1e-5 (relative past 1) of the float64 value, infinities and NaNs the same. */
    function expectNear(actual: ArrayLike<number>, want: (i: number) => number) {
      for (let i = 0; i < actual.length; i++) {
        const [v, e] = [actual[i]!, want(i)];
        if (Number.isFinite(e)) expect(Math.abs(v - e)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(e)));
        else expect(v).toBe(e);
      }
    }

    /** y, dx, dW (onto the gradient so far) and db against the float64 loop definition on the same float32 values. */
    function expectNaive32(xs: number[], ws: number[], bias: boolean, raw: unknown, p: Omit<NaiveConv, 'oh' | 'ow'>, edit?: (x: Float32Array) => void) {
      const [x, w, b] = [rand(xs, 50), rand(ws, 51), rand([ws[0]!], 52)].map((t) => cast(t, 'float32'));
      edit?.(x!.data as Float32Array);
      const a = attrs(raw);
      const inputs = bias ? [x!, w!, b!] : [x!, w!];
      const y = conv2d.forward(inputs, a);
      const [oh, ow] = y.shape.slice(-2) as [number, number];
      const g = cast(rand(y.shape, 53), 'float32');
      const ref = naiveConv2d(x!, w!, bias ? b : undefined, { ...p, oh, ow }, g);
      expect(y.data).toBeInstanceOf(Float32Array);
      expectNear(y.data, (i) => ref.y[i]!);
      // dW is accumulated onto the gradient so far
      const before = cast(rand(ws, 54), 'float32');
      const so = clone(before);
      const [dx, dw, db] = conv2d.vjp(inputs, y, g, a, [true, true, true], [undefined, so]);
      expect(dw).toBe(so);
      expect(dw!.data).toBeInstanceOf(Float32Array);
      expectNear(dw!.data, (i) => before.data[i]! + ref.dw[i]!);
      if (edit) return;
      expectClose(dx!, ref.dx, 1e-5);
      if (bias) expectClose(db!, ref.db, 1e-5);
    }

    it('matches the loop definition: LeNet\'s first layer, rows not a multiple of 4 wide, an odd channel out, depthwise, "same", stride, dilation', () => {
      expectNaive32([3, 1, 28, 28], [6, 1, 5, 5], true, { padding: 2 }, { ...plain, pad: [2, 2] });
      expectNaive32([2, 1, 9, 11], [5, 1, 3, 3], false, {}, plain);
      expectNaive32([2, 3, 8, 10], [6, 1, 3, 2], true, { groups: 3, padding: 'same', dilation: [2, 1] }, { ...plain, pad: [2, 0], dilation: [2, 1], groups: 3 });
      expectNaive32([2, 2, 9, 7], [4, 1, 3, 3], true, { groups: 2, stride: [2, 1], padding: [1, 2], dilation: [1, 2] }, {
        stride: [2, 1], pad: [1, 2], dilation: [1, 2], groups: 2,
      });
      // strided along rows: the unrolled matrix's path, the same values
      expectNaive32([2, 1, 9, 9], [3, 1, 3, 3], true, { stride: [1, 2] }, { ...plain, stride: [1, 2] });
      // one row (conv1d's shape)
      expectNaive32([2, 1, 1, 13], [3, 1, 1, 4], true, { padding: [0, 3] }, { ...plain, pad: [0, 3] });
      // several passes of samples through the workspace
      expectNaive32([40, 1, 30, 30], [2, 1, 3, 3], true, { padding: 1 }, { ...plain, pad: [1, 1] });
    });

    it('looks for a stop between blocks of samples', () => {
      // 40 samples of 30 × 30 go through the workspace in several blocks
      const [x, w] = [rand([40, 1, 30, 30], 55), rand([2, 1, 3, 3], 56)].map((t) => cast(t, 'float32'));
      const a = attrs({ padding: 1 });
      const y = conv2d.forward([x!, w!], a);
      const g = cast(rand(y.shape, 57), 'float32');
      let looks = 0;
      expect(() => cancellable(() => ++looks > 1, () => conv2d.vjp([x!, w!], y, g, a, [false, true]))).toThrow(Cancelled);
      expect(looks).toBe(2);
    });

    it('keeps what lies past a row\'s last output out of the weight gradient: an infinity there reaches only the taps that read it', () => {
      // valid 3 × 3 over 11 columns: 9 outputs a row (a vector and one lane); column 10 is read only by tap column 2
      expectNaive32([1, 1, 6, 11], [2, 1, 3, 3], true, {}, plain, (x) => {
        x[3 * 11 + 10] = Infinity;
      });
    });
  });
});

describe('conv2d shapes and attributes', () => {
  const shapeOf = (shapes: number[][], raw: unknown = {}) => conv2d.shape(shapes, attrs(raw));
  const inputOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeError);
      return (e as ShapeError).input;
    }
    throw new Error('no ShapeError');
  };

  it('gives torch\'s output size', () => {
    expect(shapeOf([[64, 1, 28, 28], [6, 1, 5, 5], [6]], { padding: 2 })).toEqual([64, 6, 28, 28]);
    expect(shapeOf([[2, 3, 10, 9], [4, 3, 3, 2]], { stride: [3, 2], padding: [1, 0], dilation: 2 })).toEqual([2, 4, 3, 4]);
  });

  it('rejects shapes that do not fit, naming the input', () => {
    expect(() => shapeOf([[3, 28, 28, 1, 1], [6, 3, 5, 5]])).toThrow(/input must be \[N, C, H, W\] or \[C, H, W\], got \[3, 28, 28, 1, 1\]/);
    expect(inputOf(() => shapeOf([[28, 28], [6, 1, 5, 5]]))).toBe(0);
    expect(() => shapeOf([[1, 3, 8, 8], [6, 3, 5]])).toThrow(/weight must be \[out_channels, in_channels \/ groups, kH, kW\]/);
    expect(inputOf(() => shapeOf([[1, 3, 8, 8], [6, 2, 5, 5]]))).toBe(1);
    expect(() => shapeOf([[1, 3, 8, 8], [6, 2, 5, 5]])).toThrow(/in_channels \/ groups = 3/);
    expect(() => shapeOf([[1, 4, 8, 8], [6, 2, 5, 5]], { groups: 2 })).not.toThrow();
    expect(inputOf(() => shapeOf([[1, 3, 8, 8], [6, 1, 5, 5]], { groups: 2 }))).toBe(0);
    expect(inputOf(() => shapeOf([[1, 4, 8, 8], [5, 2, 5, 5]], { groups: 2 }))).toBe(1);
    expect(() => shapeOf([[1, 4, 8, 8], [5, 2, 5, 5]], { groups: 2 })).toThrow(/groups 2 must divide/);
    expect(inputOf(() => shapeOf([[1, 3, 8, 8], [6, 3, 5, 5], [3]]))).toBe(2);
    expect(() => shapeOf([[1, 3, 4, 4], [6, 3, 5, 5]])).toThrow(/kernel \[5, 5\] \(dilated \[5, 5\]\) does not fit the input \[4, 4\] padded by \[0, 0\]/);
    expect(shapeOf([[1, 3, 4, 4], [6, 3, 5, 5]], { padding: 1 })).toEqual([1, 6, 2, 2]);
    expect(() => shapeOf([[1, 3, 8, 8], [6, 3, 3, 3]], { dilation: 4 })).toThrow(/dilated \[9, 9\]/);
  });

  it('validates its attributes as torch does', () => {
    expect(attrs({})).toEqual({ stride: 1, padding: 0, dilation: 1, groups: 1 });
    expect(() => attrs({ padding: 'same', stride: 2 })).toThrow(/needs stride 1/);
    expect(() => attrs({ padding: 'same', stride: [1, 2] })).toThrow(/needs stride 1/);
    expect(() => attrs({ stride: 0 })).toThrow();
    expect(() => attrs({ padding: -1 })).toThrow();
    expect(() => attrs({ padding: [1, 1, 1] })).toThrow();
    expect(() => attrs({ padding: 'full' })).toThrow();
    expect(() => attrs({ groups: 0 })).toThrow();
    expect(() => attrs({ dilation: 1.5 })).toThrow();
    expect(() => attrs({ kernel: 3 })).toThrow();
  });
});
