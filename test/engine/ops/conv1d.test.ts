import { describe, expect, it } from 'vitest';
import { conv1d } from '../../../src/engine/ops/conv1d.js';
import { cast, ShapeError, type Tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';
import { gemmBackends, useGemmBackend } from './gemm-backends.js';
import { naiveConv2d } from './naive-conv.js';

const attrs = (raw: unknown) => conv1d.parseAttrs(raw);
/** [N, C, L] as [N, C, 1, L], the same data */
const as2d = (t: Tensor): Tensor => ({ shape: [t.shape[0]!, t.shape[1]!, 1, t.shape[2]!], data: t.data });

describe.each(gemmBackends())('conv1d on the %s gemm', (_name, backend) => {
  useGemmBackend(backend);

  it('computes a 1-D cross-correlation (hand-computed)', () => {
    const y = conv1d.forward([t64([1, 1, 5], [1, 2, 3, 4, 5]), t64([1, 1, 3], [1, 0, -1]), t64([1], [1])], attrs({ padding: 1 }));
    expect(y.shape).toEqual([1, 1, 5]);
    expectClose(y, [-1, -1, -1, -1, 5]);
  });

  it('matches the loop definition with stride, padding, dilation and groups', () => {
    const x = rand([2, 4, 11], 1);
    for (const [raw, w, p] of [
      [{ stride: 2, padding: 1 }, rand([3, 4, 3], 2), { stride: [1, 2], pad: [0, 1], dilation: [1, 1], groups: 1 }],
      [{ dilation: [3], padding: [2], groups: 2 }, rand([4, 2, 2], 3), { stride: [1, 1], pad: [0, 2], dilation: [1, 3], groups: 2 }],
      [{ groups: 4, padding: 'same' }, rand([4, 1, 4], 4), { stride: [1, 1], pad: [0, 1], dilation: [1, 1], groups: 4 }],
    ] as const) {
      const b = rand([w.shape[0]!], 5);
      const a = attrs(raw);
      const y = conv1d.forward([x, w, b], a);
      const g = rand(y.shape, 6);
      const ref = naiveConv2d(as2d(x), { shape: [...w.shape.slice(0, 2), 1, w.shape[2]!], data: w.data }, b, {
        ...p, oh: 1, ow: y.shape[2]!,
      }, g);
      expectClose(y, ref.y, 1e-12);
      const [dx, dw, db] = conv1d.vjp([x, w, b], y, g, a);
      expectClose(dx!, ref.dx, 1e-12);
      expectClose(dw!, ref.dw, 1e-12);
      expectClose(db!, ref.db, 1e-12);
    }
  });

  it('has a VJP matching finite differences, unbatched and batched, at zeros', () => {
    checkVjp(conv1d, [rand([2, 3, 7], 7), rand([4, 3, 3], 8), rand([4], 9)], { stride: 2, padding: 2, dilation: 2 });
    checkVjp(conv1d, [rand([2, 6], 10), rand([4, 1, 2], 11)], { groups: 2, padding: 'same' });
    checkVjp(conv1d, [t64([1, 1, 4], () => 0), t64([1, 1, 2], [0, 1]), t64([1], [0])], { padding: 'valid' });
  });

  it('agrees with the float64 values in float32', () => {
    const [x, w] = [rand([3, 4, 32], 12), rand([5, 4, 5], 13)];
    const a = attrs({ padding: 'same' });
    const y64 = conv1d.forward([x, w], a);
    const y32 = conv1d.forward([cast(x, 'float32'), cast(w, 'float32')], a);
    expect(y32.data).toBeInstanceOf(Float32Array);
    expectClose(y32, y64.data, 1e-5);
    const g = rand(y64.shape, 14);
    const ref = conv1d.vjp([x, w], y64, g, a);
    conv1d.vjp([cast(x, 'float32'), cast(w, 'float32')], y32, cast(g, 'float32'), a).forEach((t, i) => expectClose(t!, ref[i]!.data, 1e-4));
  });
});

describe('conv1d shapes and attributes', () => {
  it('gives torch\'s output size and rejects what torch rejects, naming the input', () => {
    expect(conv1d.shape([[8, 3, 100], [16, 3, 7], [16]], attrs({ stride: 3, padding: 3 }))).toEqual([8, 16, 34]);
    expect(conv1d.shape([[3, 100], [16, 3, 7]], attrs({ padding: 'same' }))).toEqual([16, 100]);
    expect(() => conv1d.shape([[1, 3, 8, 8], [6, 3, 3]], attrs({}))).toThrow(/input must be \[N, C, L\] or \[C, L\]/);
    expect(() => conv1d.shape([[1, 3, 8], [6, 3, 3, 3]], attrs({}))).toThrow(/weight must be \[out_channels, in_channels \/ groups, kL\]/);
    expect(() => conv1d.shape([[1, 3, 8], [6, 3, 3], [5]], attrs({}))).toThrow(ShapeError);
    expect(() => conv1d.shape([[1, 3, 2], [6, 3, 3]], attrs({}))).toThrow(/does not fit/);
    expect(() => attrs({ stride: [1, 1] })).toThrow();
    expect(() => attrs({ padding: 'same', stride: [2] })).toThrow(/needs stride 1/);
  });
});
