import { OpValueError } from '../../op.js';
import { formatShape, sameShape, ShapeError, size, type Shape, type Tensor } from '../../tensor.js';
import { formatIndex } from './loss.js';

/**
 * How a prediction with a class dimension is laid out, as in PyTorch: `[C]` (one sample), `[N, C]`, or
 * `[N, C, d1, ...]` (the class dimension is always dim 1). The element of sample n, class c and spatial
 * position k sits at `(n·C + c)·inner + k`; its class index target at `n·inner + k`.
 */
export interface ClassLayout {
  samples: number;
  classes: number;
  /** product of d1, ... (1 without spatial dimensions) */
  inner: number;
  /** the target holds class probabilities (same shape as the prediction) rather than class indices */
  probabilities: boolean;
}

const FORMS = '[C], [N, C] or [N, C, d1, ...]';

/** The shape a class-index target must have for a prediction of shape `p`: p without its class dim. */
export function indexShape(p: Shape): Shape {
  return p.length === 1 ? [] : [p[0]!, ...p.slice(2)];
}

/** Works out the layout, or throws a ShapeError saying which target shapes would fit. */
export function classLayout(name: string, p: Shape, t: Shape, allowProbabilities: boolean): ClassLayout {
  if (p.length === 0) {
    throw new ShapeError(`${name}: prediction must have a class dimension (${FORMS}), got a scalar`, 0);
  }
  const classes = p.length === 1 ? p[0]! : p[1]!;
  if (classes === 0) throw new ShapeError(`${name}: prediction ${formatShape(p)} has no classes (C = 0)`, 0);
  const layout = {
    samples: p.length === 1 ? 1 : p[0]!,
    classes,
    inner: size(p.slice(2)),
  };
  if (sameShape(t, indexShape(p))) return { ...layout, probabilities: false };
  if (allowProbabilities && sameShape(t, p)) return { ...layout, probabilities: true };
  const wanted = allowProbabilities
    ? `class indices of shape ${formatShape(indexShape(p))} or class probabilities of shape ${formatShape(p)}`
    : `class indices of shape ${formatShape(indexShape(p))}`;
  throw new ShapeError(
    `${name}: for a prediction of shape ${formatShape(p)} (${FORMS}) the target must be ${wanted}, got ${formatShape(t)}`,
    1,
  );
}

/** Class indices arrive as floats: each must be an integer in [0, classes). */
export function checkClassIndices(name: string, target: Tensor, classes: number): void {
  const d = target.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (Number.isInteger(v) && v >= 0 && v < classes) continue;
    const at = `target${formatIndex(i, target.shape)}`;
    throw new OpValueError(
      Number.isInteger(v)
        ? `${name}: class index ${v} at ${at} is out of range [0, ${classes})`
        : `${name}: ${at} = ${v} is not an integer class index`,
      1,
    );
  }
}
