import { describe, expect, it } from 'vitest';
import { addF32, addTiledF32, ELEMENTWISE_MIN, mulF32, sumTilesF32 } from '../../../src/engine/kernels/index.js';
import { add } from '../../../src/engine/ops/add.js';
import { added, addInto, sumToShape } from '../../../src/engine/tensor.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

ensureWasmBuilt();

// The float32 sums and products of src/engine/kernels/wasm/assembly/arith.ts must give the JS loops' bits: a
// float32 lane's a + b or a·b is the float64 result rounded once, and sumRows32 adds each column's rows in
// the JS loop's order.

/** a Float32Array of values over many magnitudes (so rounding shows), with ±0, ±∞ and NaN at the ends */
function values(n: number, seed: number): Float32Array {
  const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 10 ** ((i % 9) - 4));
  [0, -0, Number.POSITIVE_INFINITY, -1e-45, Number.NaN].forEach((v, i) => (a[(i * 97 + seed) % n] = v));
  a[n - 1] = -0;
  return a;
}

/** same bits, NaNs compared by being NaN */
function expectBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(want[i]!)) expect(Number.isNaN(got[i]!), `element ${i}`).toBe(true);
    else if (!Object.is(got[i], want[i])) expect(got[i], `element ${i}`).toBe(want[i]);
  }
}

// across a chunk (8192), with scalar tails
const LENGTHS = [ELEMENTWISE_MIN, 1027, 8191, 8192, 8193, 3 * 8192 + 5];

describe('float32 sums and products on WebAssembly SIMD', () => {
  for (const n of LENGTHS) {
    it(`${n} elements: a + b and a·b as the JS loop, into a third array and in place`, () => {
      const [a, b] = [values(n, 1), values(n, 2)];
      const want = Float32Array.from(a, (v, i) => v + b[i]!);
      const out = new Float32Array(n).fill(7);
      expect(addF32(a, b, out)).toBe(true);
      expectBits(out, want);
      const acc = a.slice();
      expect(addF32(acc, b, acc)).toBe(true);
      expectBits(acc, want);
      const prod = b.slice();
      expect(mulF32(a, prod, prod)).toBe(true);
      expectBits(prod, Float32Array.from(a, (v, i) => v * b[i]!));
    });
  }

  // tiles shorter than a vector, of a bias, not dividing a chunk, of a whole chunk, longer than one
  for (const [rows, m] of [[700, 3], [64, 128], [9, 1000], [5, 8192], [4, 9000], [3, 20000]] as const) {
    it(`a tile of ${m} added to ${rows} rows, and ${rows} rows of ${m} summed, as the JS loops`, () => {
      const [whole, tile] = [values(rows * m, 3), values(m, 4)];
      const out = new Float32Array(rows * m).fill(7);
      expect(addTiledF32(whole, tile, out)).toBe(true);
      expectBits(out, Float32Array.from(whole, (v, i) => v + tile[i % m]!));
      const sums = new Float32Array(m).fill(7);
      expect(sumTilesF32(whole, sums)).toBe(true);
      // sumToShape's loop: from +0, each row added in turn, rounded to float32 each time
      const want = new Float32Array(m);
      for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) want[j] += whole[r * m + j]!;
      expectBits(sums, want);
    });
  }

  it('a column of −0 sums to +0, as the JS loop that starts from +0', () => {
    const sums = new Float32Array(1024);
    expect(sumTilesF32(new Float32Array(4096).fill(-0), sums)).toBe(true);
    expect(sums.every((v) => Object.is(v, 0))).toBe(true);
  });

  it('declines below ELEMENTWISE_MIN elements, writing nothing', () => {
    const out = new Float32Array(10).fill(7);
    expect(addF32(values(10, 1), values(10, 2), out)).toBe(false);
    expect(mulF32(values(10, 1), values(10, 2), out)).toBe(false);
    expect(addTiledF32(values(10, 1), values(5, 2), out)).toBe(false);
    expect(sumTilesF32(values(10, 1), out.subarray(0, 5))).toBe(false);
    expect(out.every((v) => v === 7)).toBe(true);
  });

  it('the add op, adjoint accumulation and sumToShape on float32 give the float64 sums rounded once', () => {
    const a = { shape: [6, 40, 50], data: values(12000, 5) };
    const b = { shape: [6, 40, 50], data: values(12000, 6) };
    const pos = { shape: [40, 50], data: values(2000, 7) };
    const want = Float32Array.from(a.data, (v, i) => v + b.data[i]!);
    expectBits(add.forward([a, b], {}).data as Float32Array, want);
    expectBits(added(a, b).data as Float32Array, want);
    const acc = { shape: a.shape, data: a.data.slice() };
    addInto(acc, b);
    expectBits(acc.data, want);
    // the positional table broadcast over the batch, either side of the +
    const tiled = Float32Array.from(a.data, (v, i) => v + pos.data[i % 2000]!);
    expectBits(add.forward([a, pos], {}).data as Float32Array, tiled);
    expectBits(add.forward([pos, a], {}).data as Float32Array, tiled);
    // and its gradient summed back over the batch, [1, 40, 50] as [40, 50]
    const summed = new Float32Array(2000);
    for (let i = 0; i < 12000; i++) summed[i % 2000] += a.data[i]!;
    for (const shape of [[40, 50], [1, 40, 50]]) {
      const s = sumToShape(a, shape);
      expect(s.shape).toEqual(shape);
      expectBits(s.data as Float32Array, summed);
    }
  });
});
