import { SpecError } from './errors.js';
import type { CompiledNode } from './graph.js';
import type { BuiltModel } from './model.js';
import { runBackward, runForward } from './run.js';
import type { Tensors } from './spec.js';
import { formatShape, full, sameShape, size, zeros, type Tensor } from './tensor.js';

// One forward (and optionally backward) pass of a built model: the shared core of gradients, forward,
// train, gradcheck and explain.

export interface EvalOptions {
  backward: boolean;
  /** dL/d(output) instead of a loss */
  outputGrad?: Tensor;
  inputGradients?: boolean;
  intermediates?: boolean;
  observe?: (node: CompiledNode, value: Tensor) => void;
}

export interface Evaluation {
  /** the loss node's value, or the output's when it is a scalar and no outputGrad was given */
  loss?: number;
  output: Tensor;
  /** by parameter name; zeros for a parameter the output does not depend on */
  gradients: Tensors;
  inputGradients?: Tensors;
  intermediates?: Record<string, { value: Tensor; grad: Tensor | null }>;
  forwardMs: number;
  backwardMs: number;
}

/** Where backward starts and with what: the loss (1), the output (outputGrad), or a scalar output (1). */
export function seedOf(m: BuiltModel, outputGrad?: Tensor): { from: number; seed: Tensor } {
  const dtype = m.graph.dtype;
  if (m.loss !== undefined) return { from: m.loss, seed: full([], 1, dtype) };
  const shape = m.graph.slots[m.output]!.shape;
  if (outputGrad) {
    if (!sameShape(outputGrad.shape, shape)) {
      throw new SpecError(['outputGrad'], `shape ${formatShape(outputGrad.shape)} must equal the output's shape ${formatShape(shape)}`);
    }
    return { from: m.output, seed: outputGrad };
  }
  if (size(shape) !== 1) {
    throw new SpecError(['loss'], `the output has shape ${formatShape(shape)}, not a scalar: give a loss and targets, or outputGrad`);
  }
  return { from: m.output, seed: full(shape, 1, dtype) };
}

const own = (name: string) => !name.startsWith('#');

export function evaluate(m: BuiltModel, opts: EvalOptions): Evaluation {
  const g = m.graph;
  const seed = opts.backward ? seedOf(m, opts.outputGrad) : undefined;
  const paramSlots = Object.keys(m.params).map((name) => [name, g.slotOf.get(name)!] as const);
  const inputSlots = Object.keys(m.inputs).map((name) => [name, g.slotOf.get(name)!] as const);
  const gradLeaves = new Set(paramSlots.map(([, s]) => s));
  if (opts.inputGradients) for (const [, s] of inputSlots) gradLeaves.add(s);

  const t0 = performance.now();
  const targets = m.loss === undefined ? [m.output] : [m.output, m.loss];
  const values = runForward(g, m.leaves, {
    targets,
    all: opts.intermediates,
    backwardFrom: seed ? [seed.from] : undefined,
    gradLeaves,
    observe: opts.observe,
  });
  const output = values[m.output]!;
  let loss: number | undefined;
  if (m.loss !== undefined) loss = values[m.loss]!.data[0]!;
  else if (!opts.outputGrad && output.data.length === 1) loss = output.data[0]!;
  const forwardMs = performance.now() - t0;
  // node values the caller may want, held before backward drops them
  const nodeValues = opts.intermediates ? g.nodes.map((n) => values[n.slot]!) : [];
  if (!seed) return { loss, output, gradients: {}, forwardMs, backwardMs: 0, ...intermediatesOf(m, opts, nodeValues, []) };

  const t1 = performance.now();
  const adj = runBackward(g, values, seed.from, seed.seed, { gradLeaves, keepAll: opts.intermediates });
  const grad = (s: number) => adj[s] ?? zeros(g.slots[s]!.shape, g.dtype);
  const gradients = Object.fromEntries(paramSlots.map(([name, s]) => [name, grad(s)]));
  const inputGradients = opts.inputGradients ? Object.fromEntries(inputSlots.map(([name, s]) => [name, grad(s)])) : undefined;
  const backwardMs = performance.now() - t1;
  return { loss, output, gradients, inputGradients, forwardMs, backwardMs, ...intermediatesOf(m, opts, nodeValues, adj) };
}

function intermediatesOf(m: BuiltModel, opts: EvalOptions, nodeValues: Tensor[], adj: (Tensor | undefined)[]) {
  if (!opts.intermediates) return {};
  const entries = m.graph.nodes
    .map((n, t) => [n.id, { value: nodeValues[t]!, grad: adj[n.slot] ?? null }] as const)
    .filter(([id]) => own(id));
  return { intermediates: Object.fromEntries(entries) };
}
