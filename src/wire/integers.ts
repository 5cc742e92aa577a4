import { SpecError, type Path } from '../engine/errors.js';
import { allocData, BEYOND_FLOAT32, firstNonFinite, type Data, type DType } from '../engine/tensor.js';

// Integer tensors on the wire (base64 "int32"/"int64", safetensors I32/I64): class indices and token
// ids. The engine computes in floats, so each integer becomes a float of the computation dtype; it
// must stay exact there, or an index could silently name another row (docs/api.md "Integer inputs").
// Likewise a float sent finite must stay finite in float32.

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

/**
 * A 422 at the first element that a float32 computation holds as ±Infinity although it was sent
 * finite (beyond ±3.4028235e38), as for an element sent non-finite: computed, it would only come back
 * as null.
 */
export function checkFloat32Range(data: Data, pathOf: (i: number) => Path, sent: (i: number) => string): void {
  if (!(data instanceof Float32Array)) return;
  const bad = firstNonFinite(data);
  if (bad < 0) return;
  throw new SpecError(pathOf(bad), `${sent(bad)} ${BEYOND_FLOAT32}`);
}
