import { z } from 'zod';
import { formatShape, sameShape, ShapeError, size, type Shape, type Tensor } from '../../tensor.js';
import { checkIndices } from './indices.js';

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

export const IgnoreIndexSchema = z
  .number()
  .int()
  .default(-100)
  .describe('a class-index target value that adds nothing to the loss, its gradient or its mean\'s denominator (torch ignore_index, default −100)');

/** The optional third input: one weight per class, shape [C] (torch's `weight`). */
export function checkClassWeight(name: string, layout: { classes: number }, weight: Shape | undefined): void {
  if (weight !== undefined && !sameShape(weight, [layout.classes])) {
    throw new ShapeError(`${name}: the class weight must have shape [${layout.classes}] (one per class), got ${formatShape(weight)}`, 2);
  }
}

/** Class-index targets: integers in [0, classes), or ignoreIndex. */
export function checkClassTargets(name: string, target: Tensor, classes: number, ignoreIndex: number): void {
  checkIndices(name, target, { input: 1, label: 'target', what: 'class index', n: classes, skip: ignoreIndex });
}

/** Σ w[t] over the targets that are not ignoreIndex (their count without weights): a mean's denominator, as torch's. */
export function classWeightSum(target: Tensor, weight: Tensor | undefined, ignoreIndex: number): number {
  let s = 0;
  for (const c of target.data) if (c !== ignoreIndex) s += weight ? weight.data[c]! : 1;
  return s;
}
