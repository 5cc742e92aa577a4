import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cancelled, cancellable } from '../../src/engine/cancel.js';
import { setBlasThreads } from '../../src/engine/kernels/index.js';
import { blasThreadsHeld } from '../../src/engine/kernels/openblas.js';
import { conv2d } from '../../src/engine/ops/conv2d.js';
import { crashHelper, SPLIT, splitCounts, startHelper } from '../../src/engine/split.js';
import { cast, type Tensor } from '../../src/engine/tensor.js';
import { expectClose, rand } from '../helpers/op-check.js';
import { gemmBackends, useGemmBackend } from './ops/gemm-backends.js';
import { naiveConv2d, type NaiveConv } from './ops/naive-conv.js';

// A convolution of several samples, when the request may use a second core, computes half of them
// on this thread's helper (engine/split.ts): the results must be those of one core, whichever gemm.

interface Case {
  what: string;
  x: number[];
  w: number[];
  bias: boolean;
  attrs: Record<string, unknown>;
  naive: Omit<NaiveConv, 'oh' | 'ow'>;
}

const plain = { stride: [1, 1], pad: [0, 0], dilation: [1, 1], groups: 1 } as const;
// each above the split's threshold of 2^20 multiply-adds; an odd batch, so the halves differ
const CASES: Case[] = [
  { what: 'padded, with bias', x: [9, 4, 24, 24], w: [8, 4, 3, 3], bias: true, attrs: { padding: 1 }, naive: { ...plain, pad: [1, 1] } },
  {
    what: 'strided, dilated, grouped, no bias', x: [5, 6, 48, 56], w: [8, 3, 3, 3], bias: false,
    attrs: { stride: [2, 1], dilation: [1, 2], groups: 2 }, naive: { stride: [2, 1], pad: [0, 0], dilation: [1, 2], groups: 2 },
  },
  // one input channel a group: the weight gradient's direct kernel in float32
  { what: 'depthwise', x: [9, 8, 32, 32], w: [16, 1, 3, 3], bias: true, attrs: { groups: 8, padding: 1 }, naive: { ...plain, pad: [1, 1], groups: 8 } },
];

function operands(c: Case, seed: number): Tensor[] {
  const inputs = [rand(c.x, seed), rand(c.w, seed + 1)];
  return c.bias ? [...inputs, rand([c.w[0]!], seed + 2)] : inputs;
}

describe.each(gemmBackends())('convolutions on two cores, %s gemm', (name, backend) => {
  useGemmBackend(backend);
  beforeAll(async () => {
    expect(await startHelper()).toBe(true);
  });
  afterEach(() => {
    // whatever became of a part, its hold on OpenBLAS's thread count is let go
    expect(blasThreadsHeld()).toBe(false);
    setBlasThreads(1);
  });

  it.each(CASES)('$what: forward and gradients as the loop definition (float64)', (c) => {
    const inputs = operands(c, 3);
    const a = conv2d.parseAttrs(c.attrs);
    setBlasThreads(2);
    const before = splitCounts().parts;
    const y = conv2d.forward(inputs, a);
    const g = rand(y.shape, 7);
    const grads = conv2d.vjp(inputs, y, g, a);
    expect(splitCounts().parts - before).toBe(2);
    const [oh, ow] = y.shape.slice(-2) as [number, number];
    const ref = naiveConv2d(inputs[0]!, inputs[1]!, inputs[2], { ...c.naive, oh, ow }, g);
    expectClose(y, ref.y, 1e-12);
    expectClose(grads[0]!, ref.dx, 1e-12);
    expectClose(grads[1]!, ref.dw, 1e-12);
    if (c.bias) expectClose(grads[2]!, ref.db, 1e-12);
  });

  it.each(CASES)('$what: float32 as on one core, gradients added to those given', (c) => {
    const inputs = operands(c, 11).map((t) => cast(t, 'float32'));
    const a = conv2d.parseAttrs(c.attrs);
    const y1 = conv2d.forward(inputs, a);
    const g = cast(rand(y1.shape, 13), 'float32');
    const one = conv2d.vjp(inputs, y1, g, a);
    const given = () => [cast(rand(c.x, 17), 'float32'), cast(rand(c.w, 19), 'float32')];
    const onto1 = conv2d.vjp(inputs, y1, g, a, [true, true, c.bias], given());
    setBlasThreads(2);
    const before = splitCounts().parts;
    const y2 = conv2d.forward(inputs, a);
    const two = conv2d.vjp(inputs, y2, g, a);
    const onto2 = conv2d.vjp(inputs, y2, g, a, [true, true, c.bias], given());
    expect(splitCounts().parts - before).toBe(3);
    expectClose(y2, y1.data, 1e-5);
    two.forEach((t, i) => expectClose(t!, one[i]!.data, 1e-4));
    onto2.forEach((t, i) => expectClose(t!, onto1[i]!.data, 1e-4));
    // only the weight's gradient: the input's is neither computed nor sent
    const [dx, dw] = conv2d.vjp(inputs, y2, g, a, [false, true, false]);
    expect(dx).toBeNull();
    expectClose(dw!, one[1]!.data, 1e-4);
  });

  it('stops both halves when asked to stop, and the next split is whole', () => {
    const c = CASES[0]!;
    const inputs = operands(c, 23);
    const a = conv2d.parseAttrs(c.attrs);
    const want = conv2d.forward(inputs, a);
    setBlasThreads(2);
    const before = splitCounts();
    // asked to stop once the helper has its half: this thread stops at its first look
    expect(() => cancellable(() => splitCounts().parts > before.parts, () => conv2d.forward(inputs, a))).toThrow(Cancelled);
    expect(splitCounts().parts - before.parts).toBe(1);
    const again = conv2d.forward(inputs, a);
    expect(splitCounts().parts - before.parts).toBe(2);
    // the helper stopped when asked: it was not given up
    expect(splitCounts().givenUp).toBe(before.givenUp);
    expectClose(again, want.data, 1e-12);
  });

  it('gives up a helper held up past the limit: its chunks are computed here, and a new one starts', async () => {
    // this side's half must outlast the helper's wake-up (a millisecond on a busy host), or the part
    // is withdrawn before the helper takes it up: some milliseconds on the fast gemms
    const c: Case = name === 'reference' ? CASES[0]! : { ...CASES[0]!, x: [9, 32, 64, 64], w: [64, 32, 3, 3] };
    const inputs = operands(c, 37);
    const a = conv2d.parseAttrs(c.attrs);
    const want = conv2d.forward(inputs, a);
    const g = rand(want.shape, 38);
    const wantGrads = conv2d.vjp(inputs, want, g, a);
    setBlasThreads(2);
    const before = splitCounts();
    // a helper that has taken its part up, then holds it 10 s: given up 20 ms after this side is done
    // (a part it had not taken up yet would be withdrawn instead: tried again)
    Object.assign(SPLIT, { giveUpMs: 20, holdMs: 10_000 });
    try {
      for (let i = 0; i < 20 && splitCounts().givenUp === before.givenUp; i++) {
        expect(await startHelper()).toBe(true);
        conv2d.vjp(inputs, want, g, a).forEach((t, k) => expectClose(t!, wantGrads[k]!.data, 1e-12));
      }
    } finally {
      Object.assign(SPLIT, { giveUpMs: 1000, holdMs: 0 });
    }
    expect(splitCounts().givenUp).toBeGreaterThan(before.givenUp);
    expect(blasThreadsHeld()).toBe(false);
    expect(await startHelper()).toBe(true);
    const parts = splitCounts().parts;
    expectClose(conv2d.forward(inputs, a), want.data, 1e-12);
    expect(splitCounts().parts).toBe(parts + 1);
  });

  it('a helper that has died is passed over: everything computed here, then a new one starts', async () => {
    const c = CASES[2]!;
    const inputs = operands(c, 39);
    const a = conv2d.parseAttrs(c.attrs);
    const want = conv2d.forward(inputs, a);
    setBlasThreads(2);
    expect(await startHelper()).toBe(true);
    const before = splitCounts();
    // its end not yet heard of (the event loop does not turn here): its parts are never taken up, so
    // this side takes every chunk back and withdraws them; after 16 unread parts it is replaced
    void crashHelper();
    for (let i = 0; i < 40 && splitCounts().givenUp === before.givenUp; i++) expectClose(conv2d.forward(inputs, a), want.data, 1e-12);
    expect(splitCounts().givenUp).toBe(before.givenUp + 1);
    expect(await startHelper()).toBe(true);
    const parts = splitCounts().parts;
    expectClose(conv2d.forward(inputs, a), want.data, 1e-12);
    expect(splitCounts().parts).toBe(parts + 1);
  });

  it('keeps to one core when the request has one, or the convolution is small', () => {
    const before = splitCounts().parts;
    const c = CASES[0]!;
    conv2d.forward(operands(c, 29), conv2d.parseAttrs(c.attrs));
    setBlasThreads(2);
    conv2d.forward([rand([2, 4, 20, 20], 31), rand([8, 4, 3, 3], 32)], conv2d.parseAttrs({ padding: 1 }));
    conv2d.forward([rand([1, 4, 60, 60], 33), rand([8, 4, 3, 3], 34)], conv2d.parseAttrs({ padding: 1 }));
    expect(splitCounts().parts).toBe(before);
  });
});
