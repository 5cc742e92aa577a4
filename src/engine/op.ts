import { z } from 'zod';
import { size, type Shape, type Tensor } from './tensor.js';

/**
 * One op: its shape rule, forward computation and vector-Jacobian product, plus the words that
 * `GET /v1/ops` shows. Ops are data (no closures over tensors) so a compiled graph can be run anywhere.
 *
 * - `shape` throws a ShapeError when inputs do not fit.
 * - `forward` returns a new tensor of the graph's dtype (its inputs already share it).
 * - `vjp` gets the inputs, the forward output and the upstream gradient `g` (shape of the output) and
 *   returns one entry per input: its gradient in the input's shape *or in any shape that broadcasts to
 *   it* (the engine sums it back), or `null` where the input takes no gradient. `needs[k]` false says
 *   that nobody will read input k's gradient (e.g. the data fed to a first layer): an op may skip that
 *   work and return `null` there. Without `needs`, every gradient is wanted. `into[k]`, when given, is
 *   input k's gradient summed so far (the engine's own tensor, of the input's shape and dtype): an op
 *   may add its gradient to it in place and return that very tensor, and the engine adds nothing more
 *   (a weight shared by many products gets each one accumulated by its GEMM, beta = 1, with no
 *   separate gradient and sum); or ignore it and return its gradient as usual.
 */
export interface OpSpec<A extends z.ZodType = z.ZodType> {
  name: string;
  /** exact number of inputs, or an inclusive [min, max] range (e.g. `linear` with optional bias) */
  arity: number | readonly [number, number];
  /** zod schema of `attrs`, with PyTorch's defaults; absent for ops without attributes */
  attrs?: A;
  /** what the op computes, one line */
  summary: string;
  /** the local derivative written out, e.g. "d/dx = y, d/dy = x" */
  derivative: string;
  /** inputs that never take a gradient (e.g. integer class targets), by index */
  nonDifferentiable?: readonly number[];
  shape: (inputs: Shape[], attrs: z.output<A>) => Shape;
  /**
   * floating-point operations of one forward call, from the shapes (engine/cost.ts) and the values of
   * the inputs known before running (`known`: constants and literals); without it, ELEMENT_FLOPS per
   * element read or written, what a cheap elementwise op or a reduction costs. An op whose elements
   * cost more (a transcendental function, a general power) counts them at the speed the budget
   * assumes (`perElement`), at most what it measures, so that what the budget refuses could not finish
   */
  flops?: (inputs: Shape[], out: Shape, attrs: z.output<A>, known: readonly (Tensor | undefined)[]) => number;
  /**
   * Elements the op allocates beyond its output and its inputs' gradients (scratch space, e.g.
   * attention's [L, S] weights), when they can outgrow them: the compiler counts them against
   * MAX_ELEMENTS with the graph's values, so a request that would need them is refused before any is
   * allocated. Called with shapes the shape rule accepted.
   */
  workspace?: (inputs: Shape[], attrs: z.output<A>) => number;
  forward: (inputs: Tensor[], attrs: z.output<A>) => Tensor;
  vjp: (
    inputs: Tensor[],
    out: Tensor,
    g: Tensor,
    attrs: z.output<A>,
    needs?: readonly boolean[],
    into?: readonly (Tensor | undefined)[],
  ) => (Tensor | null)[];
}

export interface Op<A extends z.ZodType = z.ZodType> extends OpSpec<A> {
  /** parses raw attrs (unknown keys rejected, defaults filled) */
  parseAttrs: (raw: unknown) => z.output<A>;
  minArity: number;
  maxArity: number;
}

const NO_ATTRS = z.strictObject({});

/** A `flops` rule: `flops` FLOPs for each element of the first input (docs/operations.md "Cost budget"). */
export const perElement =
  (flops: number) =>
  ([x]: Shape[]): number =>
    flops * size(x!);

export function defineOp<A extends z.ZodType = typeof NO_ATTRS>(spec: OpSpec<A>): Op<A> {
  const [minArity, maxArity] = typeof spec.arity === 'number' ? [spec.arity, spec.arity] : spec.arity;
  const schema = (spec.attrs ?? NO_ATTRS) as z.ZodType;
  return {
    ...spec,
    minArity,
    maxArity,
    parseAttrs: (raw) => schema.parse(raw ?? {}) as z.output<A>,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOp = Op<any>;

/** Builds the op table from one list; a repeated name is a programming error, so it throws. */
export function buildRegistry(ops: readonly AnyOp[]): ReadonlyMap<string, AnyOp> {
  const map = new Map<string, AnyOp>();
  for (const op of ops) {
    if (map.has(op.name)) throw new Error(`duplicate op name in registry: ${op.name}`);
    map.set(op.name, op);
  }
  return map;
}

let followed = true;

/**
 * Whether a backward pass will visit the node whose forward pass runs now: an op may then keep beside
 * its output what its VJP would compute again (gelu′, cross-entropy's exps, attention's weights), and
 * a forward-only pass (or a node no gradient flows through) does not pay for it. The graph runner
 * (run.ts) says so for each node; outside it, true.
 */
export const backwardFollows = (): boolean => followed;

/** run.ts: around one node's forward pass. */
export function setBackwardFollows(value: boolean): void {
  followed = value;
}

/**
 * Thrown by `forward` when an input's *values* (not its shape) make the op meaningless, e.g. a class
 * index out of range or a probability outside [0, 1]. The graph runner reports it as a client error
 * naming the node and input.
 */
export class OpValueError extends Error {
  override name = 'OpValueError';
  constructor(message: string, readonly input?: number) {
    super(message);
  }
}
