import { z } from 'zod';
import { defineOp, type Op, type OpSpec } from '../../op.js';
import { dtypeOf, formatShape, like, sameShape, scalar, ShapeError, type Data, type Shape, type Tensor } from '../../tensor.js';
import { compileLoops } from './loops.js';

// Building blocks shared by the loss ops: the `reduction` attribute, reducing a float64 running sum to
// a scalar of the graph's dtype, and the factory for losses that are a sum of one term per element
// (each loss with its own copy of the loops, shared/loops.ts).

export const ReductionSchema = z
  .enum(['mean', 'sum'])
  .default('mean')
  .describe('how per-element losses become one scalar: their mean (PyTorch default) or their sum');
export type Reduction = z.output<typeof ReductionSchema>;

/** The scalar loss from a float64 sum of `count` terms, in `like`'s dtype. */
export function reduced(total: number, count: number, reduction: Reduction, like: Tensor): Tensor {
  // NOTE: a mean over zero terms is 0/0 = NaN, as in PyTorch.
  return scalar(reduction === 'mean' ? total / count : total, dtypeOf(like));
}

/** The factor each term's derivative is multiplied by: the upstream scalar gradient, / count for a mean. */
export function termScale(g: Tensor, count: number, reduction: Reduction): number {
  return reduction === 'mean' ? g.data[0]! / count : g.data[0]!;
}

/** Position of flat offset `i` in a tensor of `shape`, for error messages: `[1, 2]`. */
export function formatIndex(i: number, shape: Shape): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

type Attrs = { reduction: Reduction };

export interface PointwiseLossSpec<A extends z.ZodType<Attrs>> {
  name: string;
  summary: string;
  derivative: string;
  attrs: A;
  /** throws OpValueError for values the loss is not defined at */
  check?: (prediction: Tensor, target: Tensor) => void;
  term: (p: number, t: number, attrs: z.output<A>) => number;
  dPrediction: (p: number, t: number, attrs: z.output<A>) => number;
  dTarget: (p: number, t: number, attrs: z.output<A>) => number;
  /** FLOPs of a forward call (OpSpec.flops), for a term dearer than the default (ELEMENT_FLOPS per element read or written) */
  flops?: OpSpec<A>['flops'];
}

interface LossLoops<T> {
  /** the float64 sum of term(x[i], y[i]) */
  total(x: Data, y: Data, attrs: T): number;
  /** out[i] = k · dPrediction(x[i], y[i]) */
  gradPrediction(x: Data, y: Data, k: number, out: Data, attrs: T): void;
  /** out[i] = k · dTarget(x[i], y[i]) */
  gradTarget(x: Data, y: Data, k: number, out: Data, attrs: T): void;
}

const LOSS_LOOPS = `return {
  total(x, y, attrs) { let s = 0; const n = x.length; for (let i = 0; i < n; i++) s += term(x[i], y[i], attrs); return s; },
  gradPrediction(x, y, k, out, attrs) { const n = x.length; for (let i = 0; i < n; i++) out[i] = k * dPrediction(x[i], y[i], attrs); },
  gradTarget(x, y, k, out, attrs) { const n = x.length; for (let i = 0; i < n; i++) out[i] = k * dTarget(x[i], y[i], attrs); },
};`;

/** A loss reduced from one term per element of equally shaped prediction and target. */
export function pointwiseLoss<A extends z.ZodType<Attrs>>(spec: PointwiseLossSpec<A>): Op<A> {
  const { name, term, dPrediction, dTarget } = spec;
  const loops = compileLoops<LossLoops<z.output<A>>>(name, LOSS_LOOPS, { term, dPrediction, dTarget });
  const shape = ([p, t]: Shape[]): Shape => {
    // PyTorch only warns when the shapes differ and then broadcasts, which is almost always a bug
    // ([N] against [N, 1] silently becomes [N, N]); we refuse instead.
    if (!sameShape(p!, t!)) {
      throw new ShapeError(
        `${name}: target shape ${formatShape(t!)} must equal prediction shape ${formatShape(p!)}`,
        1,
      );
    }
    return [];
  };
  return defineOp({
    name,
    arity: 2,
    attrs: spec.attrs,
    summary: spec.summary,
    derivative: spec.derivative,
    flops: spec.flops,
    shape,
    forward: ([p, t], attrs) => {
      shape([p!.shape, t!.shape]);
      spec.check?.(p!, t!);
      return reduced(loops.total(p!.data, t!.data, attrs), p!.data.length, attrs.reduction, p!);
    },
    // the target's gradient only when asked for (a target is seldom trained)
    vjp: ([p, t], _out, g, attrs, needs) => {
      const k = termScale(g, p!.data.length, attrs.reduction);
      const [wantP, wantT] = [needs?.[0] ?? true, needs?.[1] ?? true];
      const gp = wantP ? like(p!) : null;
      const gt = wantT ? like(t!) : null;
      if (gp) loops.gradPrediction(p!.data, t!.data, k, gp.data, attrs);
      if (gt) loops.gradTarget(p!.data, t!.data, k, gt.data, attrs);
      return [gp, gt];
    },
  });
}
