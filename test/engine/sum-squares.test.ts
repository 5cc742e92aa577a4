import { describe, expect, it } from 'vitest';
import { ELEMENTWISE_MIN, gemmBackend, probeBackends, setGemmBackend, sumSquaresF32 } from '../../src/engine/kernels/index.js';
import { sumSquaresF32 as wasmSumSquaresF32 } from '../../src/engine/kernels/wasm.js';
import { allFinite, firstNonFinite, sumSquares } from '../../src/engine/tensor.js';

// The sum of squares behind the gradient norms of the diagnostics: float32 tensors from
// ELEMENTWISE_MIN elements go to a WebAssembly SIMD kernel in chunks of 8192, eight elements a pass,
// or, from 4096 elements, to the BLAS backend's dsdot, which reads them in place.

/** Σx² in float64 with Neumaier's compensation: each float32 square is exact in float64. */
function exact(x: Float32Array): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! * x[i]!;
    const t = s + v;
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
    s = t;
  }
  return s + c;
}

/** Values of mixed sign and magnitude, subnormals and near-overflow ones included. */
function values(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u = s / 2 ** 32;
    x[i] = (u - 0.5) * 10 ** Math.floor(u * 12 - 6);
  }
  x[n >> 1] = 3e38;
  x[(n >> 2) + 1] = -1e-40; // subnormal
  return x;
}

describe('sum of squares (float32 on WebAssembly SIMD)', () => {
  it('agrees with the exact sum to float64 rounding at every size around the lanes, the 8-element pass and the chunks', () => {
    for (const n of [1024, 1025, 1031, 1032, 8191, 8192, 8193, 8199, 16_384, 70_001]) {
      const x = values(n, n);
      const want = exact(x);
      for (const view of [x, x.subarray(3), x.subarray(1, n - 2)].filter((v) => v.length >= ELEMENTWISE_MIN)) {
        const got = wasmSumSquaresF32(view);
        expect(got, `n=${view.length}`).not.toBeNull();
        expect(Math.abs(got! - exact(view)) / exact(view), `n=${view.length}`).toBeLessThan(1e-13);
      }
      // tensors of float32 take the kernels' (its squares overflow float32 in a BLAS backend's, so it is
      // this one's); float64 keeps the JS loop, on the same numbers
      expect(sumSquares({ shape: [n], data: x })).toBe(wasmSumSquaresF32(x));
      expect(Math.abs(sumSquares({ shape: [n], data: Float64Array.from(x) }) - want) / want).toBeLessThan(1e-13);
    }
  });

  it('is non-finite when an element is: NaN for a NaN anywhere, +∞ for ±∞ alone', () => {
    for (const at of [0, 5, 1023, 1027, 8191, 8192, 9000]) {
      const x = values(9001, 7);
      x[at] = Number.NaN;
      expect(wasmSumSquaresF32(x), `NaN at ${at}`).toBeNaN();
      x[at] = Number.NEGATIVE_INFINITY;
      expect(wasmSumSquaresF32(x), `-∞ at ${at}`).toBe(Number.POSITIVE_INFINITY);
      x[at + 1 < x.length ? at + 1 : at - 1] = Number.NaN;
      expect(wasmSumSquaresF32(x), `−∞ and NaN near ${at}`).toBeNaN();
    }
  });

  it('declines below ELEMENTWISE_MIN elements, where the JS loop runs', () => {
    const x = values(ELEMENTWISE_MIN - 1, 3);
    expect(wasmSumSquaresF32(x)).toBeNull();
    expect(Math.abs(sumSquares({ shape: [x.length], data: x }) - exact(x)) / exact(x)).toBeLessThan(1e-13);
  });
});

describe('firstNonFinite (base64 tensors, diagnostics): the sums first, then the index', () => {
  it('finds the first NaN or ±∞ in float32 and float64 of any size, and only those', () => {
    for (const n of [1, 7, 1023, 1024, 8193, 20_000]) {
      for (const make of [(k: number) => values(k, 11), (k: number) => Float64Array.from(values(k, 11))]) {
        const x = make(n);
        expect(firstNonFinite(x), `finite, n=${n}`).toBe(-1);
        for (const at of [0, 1, 2, 5, n >> 1, n - 3, n - 1].filter((i) => i >= 0 && i < n)) {
          for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
            const y = x.slice();
            y[at] = bad;
            if (at + 3 < n) y[at + 3] = Number.NaN; // a second one after it
            expect(firstNonFinite(y), `${bad} at ${at} of ${n} (${y.constructor.name})`).toBe(at);
          }
        }
      }
    }
    // the extremes of finite: −0, subnormals, the largest float32, float64 whose squares overflow
    expect(firstNonFinite(new Float32Array(2048).fill(-0))).toBe(-1);
    expect(firstNonFinite(new Float32Array(2048).fill(3.4028234663852886e38))).toBe(-1);
    expect(firstNonFinite(new Float32Array(2048).fill(1e-45))).toBe(-1);
    expect(firstNonFinite(new Float64Array(2048).fill(-1.7976931348623157e308))).toBe(-1);
    expect(allFinite({ shape: [2048], data: new Float64Array(2048).fill(1e300) })).toBe(true);
  });
});

describe('firstNonFinite on each backend: the BLAS one reads float32 in place (dsdot) from 4096 elements', () => {
  const before = gemmBackend();
  for (const p of probeBackends()) {
    it.skipIf(p.backend === null)(`${p.name}: finds the first NaN or ±∞, and none in finite data near float32's limits`, () => {
      if (p.name === 'openblas') expect(p.backend!.sumSquares).toBeTypeOf('function');
      setGemmBackend(p.backend!);
      try {
        for (const n of [4095, 4096, 4097, 100_003]) {
          const x = values(n, 5);
          expect(sumSquaresF32(x), `n=${n}`).not.toBeNull();
          expect(firstNonFinite(x), `finite, n=${n}`).toBe(-1);
          // squares past float32's range: a sum the backend overflows is taken again, finite
          expect(firstNonFinite(new Float32Array(n).fill(-3.4028234663852886e38)), `largest, n=${n}`).toBe(-1);
          for (const at of [0, 4094, n - 1]) {
            for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
              const y = x.slice();
              y[at] = bad;
              expect(firstNonFinite(y), `${bad} at ${at} of ${n}`).toBe(at);
              // a view that starts past the bad element sees none
              expect(firstNonFinite(y.subarray(at + 1)), `after ${at} of ${n}`).toBe(-1);
            }
          }
        }
      } finally {
        setGemmBackend(before);
      }
    });
  }
});

describe('the sum of squares of the norms on each backend: the BLAS one in place from 4096 elements', () => {
  const before = gemmBackend();
  for (const p of probeBackends()) {
    it.skipIf(p.backend === null)(`${p.name}: within float32's precision of the exact sum, and exact again where the backend's overflows`, () => {
      setGemmBackend(p.backend!);
      try {
        for (const n of [4095, 4096, 100_003]) {
          // gradients as they come: mixed signs, magnitudes 1e-6 to 1e2
          const x = values(n, 9).map((v) => Math.sign(v) * (1e-6 + (Math.abs(v) % 100)));
          const want = exact(x);
          expect(Math.abs(sumSquaresF32(x)! - want) / want, `n=${n}`).toBeLessThan(2 ** -23);
          expect(sumSquares({ shape: [n], data: x })).toBe(sumSquaresF32(x));
          // finite elements whose float32 squares overflow: summed again, exactly
          const big = new Float32Array(n).fill(1e20);
          big[7] = -3e38;
          expect(Math.abs(sumSquaresF32(big)! - exact(big)) / exact(big), `big, n=${n}`).toBeLessThan(1e-13);
          const y = x.slice();
          y[n - 1] = Number.NaN;
          expect(sumSquaresF32(y), `NaN, n=${n}`).toBeNaN();
          y[n - 1] = Number.NEGATIVE_INFINITY;
          expect(sumSquaresF32(y), `−∞, n=${n}`).toBe(Number.POSITIVE_INFINITY);
        }
      } finally {
        setGemmBackend(before);
      }
    });
  }
});
