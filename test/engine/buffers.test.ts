import { afterEach, describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { cachedBufferBytes, donateBuffers, dropCachedBuffers, Kept, recycling, takeBuffer } from '../../src/engine/buffers.js';
import { gradients } from '../../src/engine/index.js';
import { allocData } from '../../src/engine/tensor.js';
import { rand } from '../helpers/op-check.js';
import { graphJob, LIMITS, options } from './helpers.js';

const BIG = 8192; // float32 elements: 32 KiB, above the size worth caching

afterEach(() => dropCachedBuffers());

/** A call that asks for buffers of these sizes (bytes) and returns them all, so none is cached. */
function askFor(...sizes: number[]): void {
  recycling(() => sizes.map((b) => allocData(b / 4, 'float32')));
}

describe('buffer reuse across calls', () => {
  it('does nothing outside a recycling call', () => {
    expect(takeBuffer(1 << 20)).toBeNull();
    const a = allocData(BIG, 'float32');
    expect(a).toBeInstanceOf(Float32Array);
    expect(cachedBufferBytes()).toBe(0);
  });

  it('hands a buffer the last call did not return to the next call, zero-filled', () => {
    let first: ArrayBufferLike | undefined;
    recycling(() => {
      const a = allocData(BIG, 'float32');
      a.fill(7);
      first = a.buffer;
      return { kept: allocData(BIG, 'float32') };
    });
    expect(cachedBufferBytes()).toBe(BIG * 4);
    recycling(() => {
      const b = allocData(BIG, 'float32');
      expect(b.buffer).toBe(first);
      expect(b.every((v) => v === 0)).toBe(true);
      return null;
    });
  });

  it('never hands out a buffer the result holds, at any depth, nor small ones', () => {
    const out = recycling(() => {
      const deep = allocData(BIG, 'float64');
      const view = allocData(BIG, 'float32').subarray(10, 20);
      allocData(16, 'float64');
      return { a: [{ b: { data: deep } }], view };
    });
    expect(cachedBufferBytes()).toBe(0);
    recycling(() => {
      const again = [allocData(BIG, 'float64'), allocData(BIG, 'float32')];
      expect(again[0]!.buffer).not.toBe(out.a[0]!.b.data.buffer);
      expect(again[1]!.buffer).not.toBe(out.view.buffer);
      return again;
    });
  });

  it('recycles nothing when the call throws, and only at the outermost call', () => {
    expect(() =>
      recycling(() => {
        allocData(BIG, 'float32');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(cachedBufferBytes()).toBe(0);
    expect(takeBuffer(BIG * 4)).toBeNull();
    recycling(() => {
      recycling(() => allocData(BIG, 'float32'));
      expect(cachedBufferBytes()).toBe(0);
      return null;
    });
    // the outer call did not return what the inner one made
    expect(cachedBufferBytes()).toBe(BIG * 4);
  });

  it('gradients(): a later call leaves an earlier result intact and gives the same numbers', () => {
    const job: GradientsJob = {
      model: { type: 'mlp', inputSize: 64, layers: [{ units: 96, activation: 'relu' }, { units: 3, activation: 'identity' }], bias: true, norm: 'none', residual: false },
      params: {},
      inputs: rand([64, 64], 1),
      targets: { shape: [64], data: Float64Array.from({ length: 64 }, (_, i) => i % 3) },
      loss: { type: 'cross_entropy', reduction: 'mean' },
      options: options({ returnOutputs: true }),
    };
    const first = gradients(job, LIMITS);
    const snapshot = Object.fromEntries(Object.entries(first.gradients).map(([k, t]) => [k, Array.from(t.data)]));
    const outputs = Array.from(first.outputs!.data);
    expect(cachedBufferBytes()).toBeGreaterThan(0);
    const second = gradients(job, LIMITS);
    for (const [k, t] of Object.entries(first.gradients)) {
      expect(Array.from(t.data), k).toEqual(snapshot[k]);
      expect(Array.from(second.gradients[k]!.data), k).toEqual(snapshot[k]);
    }
    expect(Array.from(first.outputs!.data)).toEqual(outputs);
    expect(second.loss).toBe(first.loss);
  });

  it('takes donated buffers, but not the ones the result holds, views of part of a buffer, or shared memory', () => {
    askFor(BIG * 4, 2 * BIG * 4);
    const whole = new Float32Array(BIG);
    const kept = new Float32Array(BIG);
    const part = new Float32Array(2 * BIG).subarray(0, BIG);
    const shared = new Float32Array(new SharedArrayBuffer(BIG * 4));
    donateBuffers({ a: [whole, kept], b: { c: part, d: shared } }, { out: kept });
    expect(cachedBufferBytes()).toBe(BIG * 4);
    recycling(() => {
      expect(allocData(BIG, 'float32').buffer).toBe(whole.buffer);
      expect(allocData(BIG, 'float32').buffer).not.toBe(kept.buffer);
      return null;
    });
  });
});

describe('what the cache keeps', () => {
  const MiB = 2 ** 20;
  const donate = (bytes: number, n = 1) => {
    const arrays = Array.from({ length: n }, () => new Float32Array(bytes / 4));
    donateBuffers(arrays, null);
    return arrays;
  };

  it('only sizes that a call has asked for: a donated size no call allocates is not kept', () => {
    donate(BIG * 4);
    expect(cachedBufferBytes()).toBe(0);
    askFor(BIG * 4);
    const [a] = donate(BIG * 4);
    expect(cachedBufferBytes()).toBe(BIG * 4);
    recycling(() => {
      expect(allocData(BIG, 'float32').buffer).toBe(a!.buffer);
      return null;
    });
  });

  it('remembers at most 1024 sizes that have nothing cached, forgetting the one asked for longest ago', () => {
    const KiB16 = 16 * 1024;
    askFor(KiB16);
    for (let i = 1; i <= 1024; i++) askFor(KiB16 + 4 * i);
    donate(KiB16); // forgotten
    donate(KiB16 + 4 * 1024); // remembered
    expect(cachedBufferBytes()).toBe(KiB16 + 4 * 1024);
  });

  it('no more buffers of a size than one call has taken at most', () => {
    askFor(BIG * 4, BIG * 4);
    askFor(BIG * 4);
    donate(BIG * 4, 3);
    expect(cachedBufferBytes()).toBe(2 * BIG * 4);
  });

  it('when full, the size asked for longest ago gives way, and a buffer of that size is not kept', () => {
    const times = (n: number, bytes: number) => Array.from({ length: n }, () => bytes);
    askFor(...times(17, 4 * MiB)); // asked for first: the stalest
    askFor(...times(3, 2 * MiB));
    donate(4 * MiB, 16); // 64 MiB: the cap
    expect(cachedBufferBytes()).toBe(64 * MiB);
    const fresh = donate(2 * MiB, 3);
    // two 4-MiB buffers gave way to three 2-MiB ones
    expect(cachedBufferBytes()).toBe(14 * 4 * MiB + 3 * 2 * MiB);
    donate(4 * MiB); // the stalest size, and the cache has no room: not kept
    expect(cachedBufferBytes()).toBe(14 * 4 * MiB + 3 * 2 * MiB);
    recycling(() => {
      const reused = allocData(MiB / 2, 'float32').buffer;
      expect(fresh.some((f) => f.buffer === reused)).toBe(true);
      return null;
    });
    // asked for again (the call takes one and returns it: 13 left), 4 MiB is now the most recent size:
    // the second of two donations of it finds no room and evicts a 2-MiB buffer
    askFor(4 * MiB);
    donate(4 * MiB, 2);
    expect(cachedBufferBytes()).toBe(15 * 4 * MiB + 2 * 2 * MiB);
  });
});

describe('ops that fill their outputs themselves leave no stale bytes from reused memory', () => {
  // every cached buffer of the sizes these computations ask for is full of NaN first
  function poison(bytes: number[]) {
    for (const b of bytes) for (let i = 0; i < 4; i++) donateBuffers(new Float64Array(b / 8).fill(NaN), null);
  }
  const sizes = (elements: number[]) => elements.map((n) => n * 8);

  it('linear, relu and cross-entropy (an MLP), and matmul, tanh, add, mul, sub (a graph)', () => {
    const mlp: GradientsJob = {
      model: { type: 'mlp', inputSize: 64, layers: [{ units: 96, activation: 'relu' }, { units: 40, activation: 'tanh' }, { units: 3, activation: 'identity' }], bias: true, norm: 'none', residual: false },
      params: {},
      inputs: rand([32, 64], 3),
      targets: { shape: [32], data: Float64Array.from({ length: 32 }, (_, i) => i % 3) },
      loss: { type: 'cross_entropy', reduction: 'mean' },
      options: options({ inputGradients: true }),
    };
    const graph = graphJob(
      {
        inputs: ['x'],
        params: { w: { shape: [48, 48] }, v: { shape: [48] } },
        nodes: [
          { id: 'a', op: 'matmul', inputs: ['x', 'w'] },
          { id: 'b', op: 'tanh', inputs: ['a'] },
          { id: 'c', op: 'add', inputs: ['b', 'v'] },
          { id: 'd', op: 'mul', inputs: ['c', 'a'] },
          { id: 'e', op: 'sub', inputs: ['d', 'x'] },
          { id: 'L', op: 'sum', inputs: ['e'] },
        ],
        output: 'L',
      },
      { inputs: { x: rand([64, 48], 4) }, options: options({ inputGradients: true }) },
    );
    for (const [job, elements] of [
      [mlp, [32 * 96, 32 * 64, 96 * 64, 32 * 40, 40 * 96]],
      [graph, [64 * 48, 48 * 48]],
    ] as const) {
      dropCachedBuffers();
      const clean = gradients(job, LIMITS);
      dropCachedBuffers();
      poison(sizes([...elements]));
      const reused = gradients(job, LIMITS);
      expect(reused.loss).toBe(clean.loss);
      for (const [k, t] of Object.entries({ ...clean.gradients, ...clean.inputGradients })) {
        const got = { ...reused.gradients, ...reused.inputGradients }[k]!;
        expect(Array.from(got.data), k).toEqual(Array.from(t.data));
      }
    }
  });
});

describe('values kept for a backward pass', () => {
  it('come back during the recycling call that kept them, not after it; kept outside any call, at any time; forgotten, never', () => {
    const kept = new Kept<object, string>();
    const [inside, outside] = [{}, {}];
    kept.keep(outside, 'own memory');
    recycling(() => {
      kept.keep(inside, 'cached memory');
      expect(kept.get(inside)).toBe('cached memory');
      expect(kept.get(outside)).toBe('own memory');
    });
    // (a block: recycling walks what its function returns for buffers to keep)
    recycling(() => {
      expect(kept.get(inside)).toBeUndefined();
    });
    expect(kept.get(inside)).toBeUndefined();
    expect(kept.get(outside)).toBe('own memory');
    kept.forget(outside);
    expect(kept.get(outside)).toBeUndefined();
  });
});
