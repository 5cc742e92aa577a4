import { afterEach, describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { cachedBufferBytes, dropCachedBuffers, recycling, takeBuffer } from '../../src/engine/buffers.js';
import { gradients } from '../../src/engine/index.js';
import { allocData } from '../../src/engine/tensor.js';
import { rand } from '../helpers/op-check.js';
import { LIMITS, options } from './helpers.js';

const BIG = 8192; // float32 elements: 32 KiB, above the size worth caching

afterEach(() => dropCachedBuffers());

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
});
