import { afterEach, describe, expect, it } from 'vitest';
import { dropSpares, nextBody, ownBuffer, spareBufferBytes, spareBuffers, sparesWanted } from '../../src/wire/ownership.js';

// The event loop's spare buffers: answers' buffers kept for later bodies' tensors of the same sizes.

const KIB = 1024;
afterEach(dropSpares);

describe('ownBuffer and spareBuffers', () => {
  it('a body gets back the buffer of an answer of the size it asked for, once', () => {
    expect(sparesWanted()).toBe(false);
    nextBody();
    ownBuffer(4 * KIB); // small: not worth keeping, nothing wanted yet
    expect(sparesWanted()).toBe(false);
    const first = ownBuffer(256 * KIB);
    expect(sparesWanted()).toBe(true);
    expect(first.byteLength).toBe(256 * KIB);
    spareBuffers({ gradients: { w: new Float32Array(first) } });
    expect(spareBufferBytes()).toBe(256 * KIB);
    nextBody();
    expect(ownBuffer(256 * KIB)).toBe(first);
    expect(spareBufferBytes()).toBe(0);
    expect(ownBuffer(256 * KIB)).not.toBe(first);
  });

  it('keeps no more of a size than one body asked for, and none of sizes no body asked for', () => {
    nextBody();
    ownBuffer(128 * KIB);
    ownBuffer(128 * KIB);
    nextBody();
    ownBuffer(128 * KIB);
    const answers = [1, 2, 3].map(() => new Float32Array(32 * KIB)); // 128 KiB each
    spareBuffers({ a: answers, other: new Float64Array(100 * KIB) });
    expect(spareBufferBytes()).toBe(2 * 128 * KIB);
  });

  it('keeps a buffer held twice once, and neither views into part of a buffer nor small ones', () => {
    nextBody();
    ownBuffer(128 * KIB);
    ownBuffer(128 * KIB);
    ownBuffer(4 * KIB);
    const t = new Float32Array(32 * KIB);
    const split = new ArrayBuffer(128 * KIB);
    spareBuffers({ a: t, b: t, whole: new Float32Array(split), part: new Float32Array(split, 4), small: new Float32Array(KIB) });
    expect(spareBufferBytes()).toBe(128 * KIB);
    nextBody();
    expect(ownBuffer(128 * KIB)).toBe(t.buffer);
  });

  it('never holds more than its cap (32 MiB)', () => {
    nextBody();
    for (let i = 0; i < 40; i++) ownBuffer(2 ** 20);
    spareBuffers(Array.from({ length: 40 }, () => new Uint8Array(2 ** 20)));
    expect(spareBufferBytes()).toBe(32 * 2 ** 20);
  });
});
