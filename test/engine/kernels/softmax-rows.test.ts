import { describe, expect, it } from 'vitest';
import { expRowsF32, scaledSoftmaxRowsF32, scaleRowsF32, softmaxRowsF32 } from '../../../src/engine/kernels/wasm.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

ensureWasmBuilt();

/** The float64 loops the kernel stands in for: softmax of each row's first `open` entries, 0 past them. */
function reference(x: Float32Array, rows: number, cols: number, causal: boolean): { p: Float64Array; max: number[]; sum: number[] } {
  const p = new Float64Array(x.length);
  const [max, sum] = [[] as number[], [] as number[]];
  for (let i = 0; i < rows; i++) {
    const open = causal ? Math.min(cols, i + 1) : cols;
    let m = -Infinity;
    for (let j = 0; j < open; j++) m = Math.max(m, x[i * cols + j]!);
    let s = 0;
    for (let j = 0; j < open; j++) s += Math.exp(x[i * cols + j]! - m);
    for (let j = 0; j < open; j++) p[i * cols + j] = Math.exp(x[i * cols + j]! - m) / s;
    max.push(m);
    sum.push(s);
  }
  return { p, max, sum };
}

const random = (n: number, seed: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * scale);

describe('softmax rows on float32 (WebAssembly SIMD)', () => {
  // 300 rows of 67 run as blocks of whole rows (two chunks hold 244), 67 leaves a tail past the vectors
  for (const [rows, cols] of [[300, 67], [64, 64], [5, 3], [2, 1]] as const) {
    for (const causal of [false, true]) {
      it(`${rows}×${cols}${causal ? ', causal' : ''}: within 1e-6 relative of the float64 loop (weights ≥ e^−10 of the row's largest)`, () => {
        const x = random(rows * cols, rows + cols, 5);
        const ref = reference(x, rows, cols, causal);
        const p = x.slice();
        expect(softmaxRowsF32(p, rows, cols, causal)).toBe(true);
        let worst = 0;
        for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i]! - ref.p[i]!) / (ref.p[i]! + 1e-6));
        expect(worst).toBeLessThanOrEqual(1e-6);
        if (causal) expect(p[1]).toBe(cols > 1 ? 0 : p[1]);
      });
    }
  }

  it('scaledSoftmaxRowsF32 gives each row its softmax times its scale (a row of −∞: NaN, as the JS loops)', () => {
    const [rows, cols] = [700, 256];
    const x = random(rows * cols, 5, 8);
    x.fill(-Infinity, 3 * cols, 4 * cols);
    const scales = Float64Array.from({ length: rows }, (_, i) => (i % 9) - 4.5);
    const ref = reference(x, rows, cols, false);
    const p = new Float32Array(rows * cols);
    expect(scaledSoftmaxRowsF32(x, rows, cols, scales, p)).toBe(true);
    let worst = 0;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const [ours, want] = [p[i * cols + j]!, scales[i]! * ref.p[i * cols + j]!];
        if (i === 3) expect(ours).toBeNaN();
        else worst = Math.max(worst, Math.abs(ours - want) / (Math.abs(want) + 1e-6));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it("scaleRowsF32 on the exps expRowsF32 left, by scale/Σe, gives scaledSoftmaxRowsF32's bits (a row of −∞: NaN)", () => {
    // 701 rows of 67: blocks of whole rows and a tail past the vectors
    const [rows, cols] = [701, 67];
    const x = random(rows * cols, 9, 8);
    x.fill(-Infinity, 3 * cols, 4 * cols);
    const scales = Float64Array.from({ length: rows }, (_, i) => (i % 9) - 4.5);
    const want = new Float32Array(rows * cols);
    expect(scaledSoftmaxRowsF32(x, rows, cols, scales, want)).toBe(true);
    const e = new Float32Array(rows * cols);
    const stats = new Float64Array(2 * rows);
    expect(expRowsF32(x, rows, cols, e, stats)).toBe(true);
    expect(scaleRowsF32(e, rows, cols, scales.map((s, i) => s / stats[2 * i + 1]!))).toBe(true);
    e.forEach((v, i) => (Number.isNaN(want[i]!) ? expect(v).toBeNaN() : expect(Object.is(v, want[i]), `element ${i}`).toBe(true)));
  });

  it('expRowsF32 gives each row its max, Σ exp(x − max) and the exps themselves', () => {
    const [rows, cols] = [700, 256];
    const x = random(rows * cols, 3, 8);
    const ref = reference(x, rows, cols, false);
    const e = new Float32Array(rows * cols);
    const stats = new Float64Array(2 * rows);
    expect(expRowsF32(x, rows, cols, e, stats)).toBe(true);
    let worst = 0;
    for (let i = 0; i < rows; i++) {
      expect(stats[2 * i]).toBe(ref.max[i]);
      worst = Math.max(worst, Math.abs(stats[2 * i + 1]! / ref.sum[i]! - 1));
      for (let j = 0; j < cols; j++) {
        const want = Math.exp(x[i * cols + j]! - ref.max[i]!);
        worst = Math.max(worst, Math.abs(e[i * cols + j]! - want) / (want + 1e-6));
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('keeps the loops\' rules: a row of −∞ is 0 (NaN for the sums), a NaN or +∞ makes its row NaN, exp underflows to 0', () => {
    const rows = [
      [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
      [1, NaN, 2, 3, 4],
      [Infinity, 0, 1, 2, 3],
      [0, -1e30, -200, -104, -Infinity],
    ];
    const x = Float32Array.from(rows.flat());
    const p = x.slice();
    softmaxRowsF32(p, 4, 5, false);
    expect([...p.subarray(0, 5)]).toEqual([0, 0, 0, 0, 0]);
    expect([...p.subarray(5, 15)].every(Number.isNaN)).toBe(true);
    expect([...p.subarray(15, 20)]).toEqual([1, 0, 0, 0, 0]);
    const stats = new Float64Array(8);
    expRowsF32(x, 4, 5, new Float32Array(20), stats);
    expect(stats[1]).toBeNaN();
    expect(stats[3]).toBeNaN();
    expect(stats[5]).toBeNaN();
    expect([stats[6], stats[7]]).toEqual([0, 1]);
  });
});
