import { describe, expect, it } from 'vitest';
import { columnSumsF32 } from '../../../src/engine/kernels/wasm.js';
import { linear } from '../../../src/engine/ops/linear.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

ensureWasmBuilt();

/** linear.ts's JS loop: eight rows a pass, then the rest, in float64 onto s */
function reference(x: Float32Array, rows: number, cols: number, s: Float64Array): void {
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    for (let j = 0, i = r * cols; j < cols; j++, i++) {
      s[j] += x[i]! + x[i + cols]! + (x[i + 2 * cols]! + x[i + 3 * cols]!) + (x[i + 4 * cols]! + x[i + 5 * cols]! + (x[i + 6 * cols]! + x[i + 7 * cols]!));
    }
  }
  for (; r < rows; r++) for (let j = 0; j < cols; j++) s[j] += x[r * cols + j]!;
}

const random = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 10 ** ((i % 7) - 3));

describe('column sums of float32 in float64 (WebAssembly SIMD)', () => {
  // 1003 × 130: blocks of 120 rows, columns past the last vector, three rows after the last pass of
  // eight; 1024 × 512 the transformer's fc1; 9 × 2048 one pass per block
  for (const [rows, cols] of [[1003, 130], [1024, 512], [9, 2048], [300, 5]] as const) {
    it(`${rows}×${cols}: the JS loop's sums bit for bit, added onto what s held`, () => {
      const x = random(rows * cols, rows + cols);
      const start = Float64Array.from({ length: cols }, (_, j) => j / 3);
      const [ours, ref] = [start.slice(), start.slice()];
      expect(columnSumsF32(x, rows, cols, ours)).toBe(true);
      reference(x, rows, cols, ref);
      expect(ours).toEqual(ref);
    });
  }

  it('declines below ELEMENTWISE_MIN elements and for rows too wide for a pass of eight in a chunk, writing nothing', () => {
    const s = new Float64Array(4096).fill(7);
    expect(columnSumsF32(random(40, 1), 10, 4, s)).toBe(false);
    expect(columnSumsF32(random(3 * 4096, 1), 3, 4096, s)).toBe(false);
    expect(s.every((v) => v === 7)).toBe(true);
  });

  it("linear's float32 bias gradient is the column sums of g, rounded once", () => {
    const [rows, outF] = [1003, 130];
    const g = { shape: [rows, outF], data: random(rows * outF, 5) };
    const x = { shape: [rows, 3], data: random(rows * 3, 6) };
    const w = { shape: [outF, 3], data: random(outF * 3, 7) };
    const b = { shape: [outF], data: new Float32Array(outF) };
    const [, , db] = linear.vjp([x, w, b], { shape: [rows, outF], data: new Float32Array(rows * outF) }, g, {}, [false, false, true]);
    const ref = new Float64Array(outF);
    reference(g.data, rows, outF, ref);
    expect(db!.data).toEqual(Float32Array.from(ref));
  });
});
