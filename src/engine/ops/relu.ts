import { reluF32, reluGradF32 } from '../kernels/index.js';
import { defineOp } from '../op.js';
import { dtypeOf, emptyData, type Data } from '../tensor.js';

// relu is the activation of most MLPs, so its loops are written out on the IEEE-754 bits, without the
// data-dependent branch of `x > 0 ? x : 0` (it mispredicts on half of the elements, and then costs far
// more than the loop): a value's sign bit, spread to a mask, zeroes negative values, −0 and −∞. A NaN stays NaN
// whatever its sign bit, as in PyTorch (x86 makes NaNs with the sign bit set: inf − inf, 0 · inf).
// NOTE: little-endian (every platform Node runs on): a float64's sign is in its second 32-bit word.
// The float32 loops take four elements a pass, which the JIT does not do by itself. Float32 tensors of
// 1024 elements or more go to the WebAssembly SIMD kernel (src/engine/kernels/wasm.ts), the same bits,
// faster again; the loops here serve small tensors, float64, and a build without the module.

const words = (d: Data) => new Int32Array(d.buffer, d.byteOffset, d.byteLength >> 2);

/** A float32's bits b: all ones when the value is NaN, else 0. */
const nan32 = (b: number) => (0x7f800000 - (b & 0x7fffffff)) >> 31;
/** y = relu(x) on a float32's bits: the sign bit spread to a mask, unless the value is NaN. */
const relu32 = (b: number) => b & (~(b >> 31) | nan32(b));

function forward32(a: Float32Array, data: Float32Array): void {
  if (reluF32(a, data)) return;
  const [x, y] = [words(a), words(data)];
  const n = x.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    y[i] = relu32(x[i]!);
    y[i + 1] = relu32(x[i + 1]!);
    y[i + 2] = relu32(x[i + 2]!);
    y[i + 3] = relu32(x[i + 3]!);
  }
  for (; i < n; i++) y[i] = relu32(x[i]!);
}

function forward64(v: Data, data: Data): void {
  const [x, y] = [words(v), words(data)];
  for (let i = 0, k = 0; i < x.length; i += 2, k++) {
    const keep = ~(x[i + 1]! >> 31) | -(v[k]! !== v[k]!);
    y[i] = x[i]! & keep;
    y[i + 1] = x[i + 1]! & keep;
  }
}

function vjp32(y: Float32Array, g: Float32Array, gx: Float32Array): void {
  if (reluGradF32(y, g, gx)) return;
  const [gw, w] = [words(g), words(gx)];
  // −!(y ≤ 0) is −1 (all bits of g) unless y ≤ 0; NaN ≤ 0 is false
  const n = y.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    w[i] = gw[i]! & -!(y[i]! <= 0);
    w[i + 1] = gw[i + 1]! & -!(y[i + 1]! <= 0);
    w[i + 2] = gw[i + 2]! & -!(y[i + 2]! <= 0);
    w[i + 3] = gw[i + 3]! & -!(y[i + 3]! <= 0);
  }
  for (; i < n; i++) w[i] = gw[i]! & -!(y[i]! <= 0);
}

function vjp64(y: Data, g: Data, gx: Data): void {
  const [gw, w] = [words(g), words(gx)];
  for (let i = 0; i < y.length; i++) {
    // −1 (all bits of g) unless y ≤ 0
    const keep = -!(y[i]! <= 0);
    w[2 * i] = gw[2 * i]! & keep;
    w[2 * i + 1] = gw[2 * i + 1]! & keep;
  }
}

export const relu = defineOp({
  name: 'relu',
  arity: 1,
  summary: 'max(x, 0); NaN stays NaN',
  derivative: 'd/dx relu(x) = 1 if x > 0 else 0 (0 at x = 0); where relu(x) is NaN the gradient passes, as in PyTorch',
  shape: ([a]) => a!,
  forward: ([a]) => {
    const data = emptyData(a!.data.length, dtypeOf(a!));
    if (data instanceof Float32Array) forward32(a!.data as Float32Array, data);
    else forward64(a!.data, data);
    return { shape: [...a!.shape], data };
  },
  // NOTE: the subgradient at the kink is 0, as in PyTorch, whose backward zeroes the gradient where the
  // output is ≤ 0 and passes it everywhere else, NaN outputs included.
  vjp: ([a], out, g) => {
    const y = out.data;
    const gx = emptyData(y.length, dtypeOf(g));
    if (dtypeOf(g) !== dtypeOf(out)) {
      for (let i = 0; i < y.length; i++) gx[i] = y[i]! <= 0 ? 0 : g.data[i]!;
    } else if (gx instanceof Float32Array) {
      vjp32(y as Float32Array, g.data as Float32Array, gx);
    } else {
      vjp64(y, g.data, gx);
    }
    return [{ shape: [...a!.shape], data: gx }];
  },
});
