import { OpValueError } from '../../op.js';
import { formatElement, type Tensor } from '../../tensor.js';
import { formatIndex } from './loss.js';

// Index inputs (class indices, token ids, positions along an axis) travel in the graph's float arrays,
// exact up to 2^24 in float32 and 2^53 in float64 (docs/api.md "Integer inputs"; the integer wire
// dtypes are converted exactly or refused, wire/integers.ts). Every op that reads indices checks them
// here, so embedding, gather, index_select and the losses say the same thing about a bad one.

export interface IndexRule {
  /** the op input holding the indices, named in the error's path */
  input: number;
  /** how the message names the tensor: `target`, `indices`, `index` */
  label: string;
  /** what one element is: `class index`, `index` */
  what: string;
  /** valid indices are 0 … n − 1 */
  n: number;
  /** a value allowed besides those (a loss's ignoreIndex) */
  skip?: number;
}

/** Throws an OpValueError naming the first element that is not an integer in [0, n) (nor `skip`). */
export function checkIndices(op: string, t: Tensor, { input, label, what, n, skip }: IndexRule): void {
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if ((Number.isInteger(v) && v >= 0 && v < n) || v === skip) continue;
    const at = `${label}${formatIndex(i, t.shape)}`;
    const ignore = skip === undefined ? '' : ` and is not ignoreIndex ${skip}`;
    throw new OpValueError(
      Number.isInteger(v) ? `${op}: ${what} ${v} at ${at} is out of range [0, ${n})${ignore}` : `${op}: ${at} = ${formatElement(d, i)} is not an integer ${what}`,
      input,
    );
  }
}
