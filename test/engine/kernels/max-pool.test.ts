import { describe, expect, it } from 'vitest';
import { maxPool2x2F32, maxPoolScatterF32 } from '../../../src/engine/kernels/pool.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

/** The definition: each 2 × 2 window's first maximum in row-major order, a NaN replacing whatever came before. */
function reference(x: Float32Array, planes: number, h: number, w: number, oh: number, ow: number) {
  const y = new Float32Array(planes * oh * ow);
  const arg = new Int32Array(y.length);
  let o = 0;
  for (let q = 0; q < planes; q++) {
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++, o++) {
        const k = (q * h + 2 * r) * w + 2 * c;
        let where = k;
        for (const t of [k + 1, k + w, k + w + 1]) if (x[t]! > x[where]! || Number.isNaN(x[t])) where = t;
        [y[o], arg[o]] = [x[where]!, where];
      }
    }
  }
  return { y, arg };
}

describe('the 2 × 2 max-pool kernel', () => {
  ensureWasmBuilt();

  it('gives each window\'s maximum and its index: ties, NaNs, odd sizes, and inputs of several passes (2^16 elements each)', () => {
    // rows of 9, 5 and 181 windows end with a group of four overlapping the one before; 8 without; 3 one by one
    for (const [planes, h, w] of [[6, 9, 19], [2, 8, 16], [3, 5, 7], [4, 10, 10], [10, 300, 362]] as const) {
      const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
      const x = Float32Array.from({ length: planes * h * w }, (_, i) => (i % 7 === 3 ? NaN : ((i * 5) % 4) - (i % 3)));
      const y = new Float32Array(planes * oh * ow);
      const arg = new Int32Array(y.length);
      expect(maxPool2x2F32(x, planes, h, w, oh, ow, y, arg)).toBe(true);
      const ref = reference(x, planes, h, w, oh, ow);
      expect(arg).toEqual(ref.arg);
      expect(y).toEqual(ref.y);
    }
  });

  it('scatters the gradient to the maxima in order, overlapping windows adding up, over several passes (2^16 elements each)', () => {
    for (const [planes, plane, outs] of [[3, 20, 7], [40, 3000, 900]] as const) {
      // each plane's outputs point inside it, several at the same element; one index outside dx is skipped
      const arg = Int32Array.from({ length: planes * outs }, (_, o) => Math.floor(o / outs) * plane + ((o * 37) % 11) * ((o % 5) + 1));
      arg[arg.length - 1] = -1;
      const g = Float32Array.from(arg, (_, o) => 0.1 * ((o % 13) - 6));
      const want = new Float32Array(planes * plane);
      for (let o = 0; o < arg.length; o++) want[arg[o]!] += g[o]!;
      const dx = new Float32Array(planes * plane).fill(7);
      expect(maxPoolScatterF32(g, arg, planes, plane, dx)).toBe(true);
      expect(dx).toEqual(want);
    }
  });
});

