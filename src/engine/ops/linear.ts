import { columnSumsF32, gemm } from '../kernels/index.js';
import { defineOp } from '../op.js';
import { dtypeOf, empty, formatShape, ShapeError, size, zeros, type Shape } from '../tensor.js';

function linearShape([x, w, b]: Shape[]): number[] {
  if (w!.length !== 2) throw new ShapeError(`linear: weight must be 2-D [out, in], got ${formatShape(w!)}`, 1);
  const [outF, inF] = w as [number, number];
  if (x!.length === 0 || x!.at(-1) !== inF) {
    throw new ShapeError(`linear: input ${formatShape(x!)} must end in in_features ${inF} of weight ${formatShape(w!)}`, 0);
  }
  if (b && !(b.length === 1 && b[0] === outF)) {
    throw new ShapeError(`linear: bias must have shape [${outF}] for weight ${formatShape(w!)}, got ${formatShape(b)}`, 2);
  }
  return [...x!.slice(0, -1), outF];
}

// x is read as a [rows, in] matrix whatever its leading dims: row-major makes that free.
export const linear = defineOp({
  name: 'linear',
  arity: [2, 3],
  summary: 'x · Wᵀ + b as torch.nn.functional.linear: x [..., in], W [out, in], optional b [out]',
  derivative: '∂L/∂x = g · W, ∂L/∂W = gᵀ · x (leading dims of x flattened), ∂L/∂b = Σ_rows g',
  shape: (inputs) => linearShape(inputs),
  // each output element is a dot product of length in_features, plus its bias
  flops: ([x, , b], out) => size(out) * (2 * x!.at(-1)! + (b ? 1 : 0)),
  forward: ([x, w, b]) => {
    const shape = linearShape([x!.shape, w!.shape, ...(b ? [b.shape] : [])]);
    const [outF, inF] = w!.shape as [number, number];
    const rows = size(x!.shape.slice(0, -1));
    // every element is written: the bias first, then gemm accumulates onto it (beta = 1, no second
    // pass over y), or gemm writes without reading (beta = 0)
    const y = empty(shape, dtypeOf(x!));
    if (b) for (let r = 0; r < rows; r++) y.data.set(b.data, r * outF);
    gemm(false, true, rows, outF, inF, 1, x!.data, inF, w!.data, inF, b ? 1 : 0, y.data, outF);
    return y;
  },
  // a product is skipped when its gradient is not wanted (the data fed to a first layer takes none)
  // dx and dW are written by beta = 0 products, or added by beta = 1 to the gradient so far (`into`)
  vjp: ([x, w, b], _out, g, _attrs, needs, into) => {
    const [outF, inF] = w!.shape as [number, number];
    const rows = size(x!.shape.slice(0, -1));
    let dx = null;
    let dw = null;
    if (needs?.[0] ?? true) {
      dx = into?.[0] ?? empty(x!.shape, dtypeOf(x!));
      gemm(false, false, rows, inF, outF, 1, g.data, outF, w!.data, inF, into?.[0] ? 1 : 0, dx.data, inF);
    }
    if (needs?.[1] ?? true) {
      dw = into?.[1] ?? empty(w!.shape, dtypeOf(w!));
      gemm(true, false, outF, inF, rows, 1, g.data, outF, x!.data, inF, into?.[1] ? 1 : 0, dw.data, inF);
    }
    if (!b) return [dx, dw];
    if (!(needs?.[2] ?? true)) return [dx, dw, null];
    // summed in float64 whatever the dtype, so a float32 bias gradient does not lose the small rows;
    // float32 on the SIMD kernel, which gives this loop's sums
    const s = new Float64Array(outF);
    const gd = g.data;
    // eight rows per pass over s: an eighth of the loads and stores of the sums
    let r = gd instanceof Float32Array && columnSumsF32(gd, rows, outF, s) ? rows : 0;
    for (; r + 8 <= rows; r += 8) {
      const o = r * outF;
      for (let j = 0, i = o; j < outF; j++, i++) {
        s[j] += gd[i]! + gd[i + outF]! + (gd[i + 2 * outF]! + gd[i + 3 * outF]!) + (gd[i + 4 * outF]! + gd[i + 5 * outF]! + (gd[i + 6 * outF]! + gd[i + 7 * outF]!));
      }
    }
    for (; r < rows; r++) for (let j = 0, o = r * outF; j < outF; j++) s[j] += gd[o + j]!;
    const db = zeros(b.shape, dtypeOf(b));
    db.data.set(s);
    return [dx, dw, db];
  },
});
