import type { Limits } from './api.js';
import { LimitError, type Path } from './errors.js';
import type { CompiledGraph } from './graph.js';
import { size, type Shape } from './tensor.js';

// What a computation will cost, from the compiled graph's shapes, before any of it runs: a request
// over the FLOP budget (FLOP_BUDGET, docs/operations.md) is refused up front with a 413 instead of
// running until its time limit.

export interface Cost {
  /** floating-point operations, each op's by its own rule (OpSpec.flops) */
  flops: number;
  /** bytes of every value of one pass: what the pass reads and writes at least once */
  bytes: number;
}

/** A backward pass costs about two forward passes: a product (or an elementwise pass) per input's gradient. */
export const BACKWARD_PASSES = 2;

/** the way to ask for less of a forward and backward pass */
export const SMALLER_BATCH = 'split the batch over several requests';

const BYTES_PER_ELEMENT = { float32: 4, float64: 8 } as const;

/**
 * what every node costs besides its arithmetic (its call, its output's allocation), in FLOPs at the
 * speed FLOP_BUDGET assumes: it dominates passes over small tensors, which a gradient check repeats
 */
export const NODE_FLOPS = 10_000;

/**
 * what an elementwise op or a reduction counts for each element it reads or writes, at the speed the
 * budget assumes: about half what the cheapest (neg, add) take here, as the dearer ops' own counts are
 * (OpSpec.flops), so that what the budget refuses could not finish
 */
export const ELEMENT_FLOPS = 2;

const elementwiseFlops = (inputs: readonly Shape[], out: Shape) => ELEMENT_FLOPS * inputs.reduce((n, s) => n + size(s), size(out));

// a plan compiled once for a known model is costed once
const forwardCosts = new WeakMap<CompiledGraph, Cost>();

/** One forward pass over every node of `g`. */
export function forwardCost(g: CompiledGraph): Cost {
  let cost = forwardCosts.get(g);
  if (cost !== undefined) return cost;
  let flops = NODE_FLOPS * g.nodes.length;
  for (const node of g.nodes) {
    const inputs = node.inputs.map((s) => g.slots[s]!.shape);
    const out = g.slots[node.slot]!.shape;
    flops += node.op.flops ? node.op.flops(inputs, out, node.attrs, node.inputs.map((s) => g.fixed.get(s))) : elementwiseFlops(inputs, out);
  }
  cost = { flops, bytes: g.elements * BYTES_PER_ELEMENT[g.dtype] };
  forwardCosts.set(g, cost);
  return cost;
}

function amount(flops: number): string {
  if (flops >= 1e9) return `${(flops / 1e9).toPrecision(3)} GFLOP`;
  if (flops >= 1e6) return `${(flops / 1e6).toPrecision(3)} MFLOP`;
  return `${Math.round(flops)} FLOP`;
}

export interface Work {
  /** what is being estimated, e.g. "a forward and a backward pass" */
  what: string;
  /** forward passes' worth of work over `g` (a backward pass counts BACKWARD_PASSES) */
  passes: number;
  /** the request field to change, for the problem's path */
  path: Path;
  /** how to ask for less, e.g. "split the batch over several requests" */
  lower: string;
}

/**
 * Throws the 413 of a computation over `limits.maxFlops`, naming the estimate, the budget and how to
 * ask for less; returns the estimate otherwise.
 */
export function withinBudget(g: CompiledGraph, limits: Limits, work: Work): Cost {
  const pass = forwardCost(g);
  const cost = { flops: pass.flops * work.passes, bytes: pass.bytes };
  if (limits.maxFlops !== undefined && cost.flops > limits.maxFlops) {
    const mb = (cost.bytes / (1024 * 1024)).toPrecision(3);
    throw new LimitError(
      work.path,
      `${work.what} needs an estimated ${amount(cost.flops)} (${amount(pass.flops)} a forward pass over ${mb} MiB of values), ` +
        `over the budget of ${amount(limits.maxFlops)} (FLOP_BUDGET): ${work.lower}, or start the service with a larger FLOP_BUDGET`,
    );
  }
  return cost;
}
