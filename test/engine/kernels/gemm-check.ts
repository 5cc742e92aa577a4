import type { GemmBackend } from '../../../src/engine/kernels/gemm.js';
import { referenceBackend } from '../../../src/engine/kernels/reference.js';
import type { Data } from '../../../src/engine/tensor.js';
import { rng } from '../../helpers/op-check.js';

export type Dtype = 'float32' | 'float64';
export const make = (dtype: Dtype, n: number): Data => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
const EPS = { float32: 2 ** -23, float64: 2 ** -52 };
export const TRANS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
export const label = ([ta, tb]: [boolean, boolean]) => `${ta ? 'Aᵀ' : 'A'}·${tb ? 'Bᵀ' : 'B'}`;

export interface Case {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha?: number;
  beta?: number;
  /** Extra row stride beyond the minimum, per operand. */
  pad?: [number, number, number];
  /** Element offsets of the subarray views, per operand. */
  off?: [number, number, number];
  /** Fill C's used elements with NaN (only meaningful with beta = 0). */
  nanC?: boolean;
  seed?: number;
}

/**
 * Runs one GEMM on `backend` and on the float64 reference, with the operands stored in larger buffers
 * whose unused elements (row gaps, before and after the views) hold NaN: reading one would poison the
 * result, writing one would show up in the untouched-elements check.
 */
export function check(backend: GemmBackend, dtype: Dtype, c: Case): void {
  const { transA, transB, m, n, k, alpha = 1, beta = 0, pad = [0, 0, 0], off = [0, 0, 0], seed = 1 } = c;
  const r = rng(seed);
  const shapes: [number, number][] = [transA ? [k, m] : [m, k], transB ? [n, k] : [k, n], [m, n]];
  const lds = shapes.map(([, cols], i) => Math.max(1, cols + pad[i]!));
  const store = shapes.map(([rows, cols], i) => {
    const buf = make(dtype, off[i]! + rows * lds[i]! + 3).fill(NaN);
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) buf[off[i]! + row * lds[i]! + col] = c.nanC && i === 2 ? NaN : 2 * r() - 1;
    }
    return buf;
  });
  const [bufA, bufB, bufC] = store as [Data, Data, Data];
  const before = Float64Array.from(bufC);

  // Expected value, and a bound on its rounding error: γ_(k+2)·(|alpha|·|op(A)|·|op(B)| + |beta|·|C|).
  const f64 = (x: Data) => Float64Array.from(x);
  const abs = (x: Data) => Float64Array.from(x, Math.abs);
  const ref = (x: (d: Data) => Float64Array, al: number, be: number) => {
    const out = x(bufC);
    referenceBackend.gemm(transA, transB, m, n, k, al, x(bufA).subarray(off[0]), lds[0]!, x(bufB).subarray(off[1]), lds[1]!, be, out.subarray(off[2]), lds[2]!);
    return out;
  };
  const expected = ref(f64, alpha, beta);
  const magnitude = ref(abs, Math.abs(alpha), Math.abs(beta));

  backend.gemm(transA, transB, m, n, k, alpha, bufA.subarray(off[0]), lds[0]!, bufB.subarray(off[1]), lds[1]!, beta, bufC.subarray(off[2]), lds[2]!);

  // Alpha and beta are rounded to the dtype too, which the bound's +2 covers.
  const tol = 2 * (k + 2) * EPS[dtype];
  for (let i = 0; i < bufC.length; i++) {
    const row = Math.floor((i - off[2]) / lds[2]!);
    const col = i - off[2] - row * lds[2]!;
    const inC = i >= off[2] && row < m && col < n;
    if (!inC) {
      if (!Object.is(bufC[i], before[i])) throw new Error(`element ${i} outside C was written: ${bufC[i]}`);
      continue;
    }
    const got = bufC[i]!;
    const want = expected[i]!;
    if (Number.isNaN(want) ? !Number.isNaN(got) : !(Math.abs(got - want) <= tol * magnitude[i]! + Number.MIN_VALUE)) {
      throw new Error(`C[${row},${col}] = ${got}, expected ${want} (bound ${tol * magnitude[i]!})`);
    }
  }
}
