import { SpecError, type Path } from '../engine/errors.js';
import { allocData, type Data, type DType } from '../engine/tensor.js';

// Integer tensors on the wire (base64 "int32"/"int64", safetensors I32/I64): class indices and token
// ids. The engine computes in floats, so each integer becomes a float of the computation dtype; it
// must stay exact there, or an index could silently name another row (docs/api.md "Integer inputs").

/** The largest magnitude up to which every integer is a float of `dtype`: 2^24 for float32, 2^53 for float64. */
export const EXACT_INTEGER_BITS: Record<DType, number> = { float32: 24, float64: 53 };

/** Integers as floats of `to`, each exact (a 422 at `path` naming the first one that is not). */
export function integerData(src: Int32Array | BigInt64Array, to: DType, path: Path): Data {
  const bits = EXACT_INTEGER_BITS[to];
  const limit = 2 ** bits;
  const big = BigInt(limit);
  const out = allocData(src.length, to);
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    // a BigInt is compared as itself: beyond 2^53 its Number may round onto the limit
    if (typeof x === 'bigint' ? x > big || x < -big : x > limit || x < -limit) {
      const fix = to === 'float32' ? ' (options.dtype "float64" keeps integers exact to ±2^53)' : '';
      throw new SpecError(path, `element ${i} (${x}) is beyond ±2^${bits}, where integers stay exact in ${to}${fix}`);
    }
    out[i] = Number(x);
  }
  return out;
}
