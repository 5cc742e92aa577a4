import { stopIfCancelled } from './cancel.js';
import { SpecError } from './errors.js';
import type { CompiledGraph, CompiledNode } from './graph.js';
import { OpValueError, setBackwardFollows } from './op.js';
import { added, addInto, cast, dtypeOf, formatShape, sameShape, sumToShape, type Tensor } from './tensor.js';

// Forward and backward passes over a compiled graph. Values and adjoints live in arrays indexed by
// slot; what no later step needs is dropped as soon as possible so the garbage collector can take it.

export type Values = (Tensor | undefined)[];

export interface ForwardOptions {
  /** slots whose values are wanted after the pass (the output, the loss, ...) */
  targets: readonly number[];
  /** compute and keep every node, not only what the targets need (for `intermediates`) */
  all?: boolean;
  /** keep what a backward pass from these slots will read; without it, values are dropped after their last use */
  backwardFrom?: readonly number[];
  /** leaves that will take a gradient, so backward needs their consumers' operands */
  gradLeaves?: ReadonlySet<number>;
  /** sees each node's value as it is computed */
  observe?: (node: CompiledNode, value: Tensor) => void;
}

/** Turns an op's value error into a client error naming the node (and the input at fault). */
function blame(g: CompiledGraph, node: CompiledNode, err: unknown): never {
  if (err instanceof OpValueError) {
    const at = g.pathOf(node, err.input !== undefined && err.input < node.inputs.length ? err.input : undefined);
    throw new SpecError(at, err.message.startsWith(node.op.name) ? err.message : `${node.op.name}: ${err.message}`);
  }
  throw err;
}

/** Marks the nodes (by position in `g.nodes`) whose values the targets depend on. */
export function ancestors(g: CompiledGraph, targets: readonly number[]): Uint8Array {
  const need = new Uint8Array(g.nodes.length);
  const stack: number[] = [];
  const visit = (slot: number) => {
    const t = g.producer[slot]!;
    if (t >= 0 && !need[t]) {
      need[t] = 1;
      stack.push(t);
    }
  };
  targets.forEach(visit);
  while (stack.length > 0) for (const s of g.nodes[stack.pop()!]!.inputs) visit(s);
  return need;
}

/** Which slots lead to a leaf that takes a gradient (those are the only ones backward visits). */
export function gradientFlow(g: CompiledGraph, gradLeaves: ReadonlySet<number>): Uint8Array {
  const flows = new Uint8Array(g.slots.length);
  for (const s of gradLeaves) flows[s] = 1;
  for (const node of g.nodes) {
    if (node.inputs.some((s, k) => flows[s] && !node.op.nonDifferentiable?.includes(k))) flows[node.slot] = 1;
  }
  return flows;
}

/** What a forward pass computes and keeps, which depends on the graph and the pass's options only. */
interface Schedule {
  /** by node position: computed (the targets need it) */
  need: Uint8Array;
  /** by slot: the value must outlive the forward pass; else it is dropped after its last reader */
  keep: Uint8Array;
  /** by slot: the position of the last node reading it, or -1 */
  lastUse: Int32Array;
  /** by slot: the backward pass visits it (gradientFlow); null without one */
  flows: Uint8Array | null;
}

/** Per graph, by the options that shape them: the same model's requests ask for the same few schedules. */
const schedules = new WeakMap<CompiledGraph, Map<string, Schedule>>();
const flowsByLeaves = new WeakMap<CompiledGraph, Map<string, Flow>>();
const SCHEDULES_PER_GRAPH = 16;

function memo<T>(all: WeakMap<CompiledGraph, Map<string, T>>, g: CompiledGraph, key: string, make: () => T): T {
  let byKey = all.get(g);
  if (byKey === undefined) all.set(g, (byKey = new Map()));
  let v = byKey.get(key);
  if (v === undefined) {
    if (byKey.size >= SCHEDULES_PER_GRAPH) byKey.clear();
    byKey.set(key, (v = make()));
  }
  return v;
}

/** What the backward pass visits, which depends on the graph and the leaves only. */
interface Flow {
  /** by slot: gradientFlow */
  flows: Uint8Array;
  /** by node position: which of its inputs' gradients are wanted (they lead to a leaf, and the op has one) */
  needs: (readonly boolean[])[];
}

/** gradientFlow and each node's wanted gradients, kept per graph and leaves (read only). */
const flowsOf = (g: CompiledGraph, gradLeaves: ReadonlySet<number>): Flow =>
  memo(flowsByLeaves, g, [...gradLeaves].join(','), () => {
    const flows = gradientFlow(g, gradLeaves);
    const needs = g.nodes.map((node) => node.inputs.map((s, k) => flows[s] === 1 && !node.op.nonDifferentiable?.includes(k)));
    return { flows, needs };
  });

function scheduleOf(g: CompiledGraph, opts: ForwardOptions): Schedule {
  const leaves = opts.backwardFrom ? [...(opts.gradLeaves ?? [])].join(',') : '-';
  return memo(schedules, g, `${opts.all ? 1 : 0}|${opts.targets.join(',')}|${leaves}`, () => {
    const need = opts.all ? new Uint8Array(g.nodes.length).fill(1) : ancestors(g, opts.targets);
    const keep = new Uint8Array(g.slots.length);
    for (const s of opts.targets) keep[s] = 1;
    if (opts.all) keep.fill(1);
    // the nodes the backward pass will visit (none without one)
    const flows = opts.backwardFrom ? flowsOf(g, opts.gradLeaves ?? new Set()).flows : null;
    if (flows) {
      for (const node of g.nodes) {
        if (!flows[node.slot]) continue;
        keep[node.slot] = 1;
        for (const s of node.inputs) keep[s] = 1;
      }
    }
    const lastUse = new Int32Array(g.slots.length).fill(-1);
    g.nodes.forEach((node, t) => {
      if (need[t]) for (const s of node.inputs) lastUse[s] = t;
    });
    return { need, keep, lastUse, flows };
  });
}

/**
 * Computes the nodes the targets need, in topological order. `leaves` holds the values of inputs and
 * params (in the graph's dtype); constants come from the graph.
 */
export function runForward(g: CompiledGraph, leaves: ReadonlyMap<number, Tensor>, opts: ForwardOptions): Values {
  const values: Values = new Array(g.slots.length);
  for (const [s, t] of g.fixed) values[s] = t;
  for (const [s, t] of leaves) values[s] = t;
  const { need, keep, lastUse, flows } = scheduleOf(g, opts);

  for (let t = 0; t < g.nodes.length; t++) {
    if (!need[t]) continue;
    const node = g.nodes[t]!;
    stopIfCancelled();
    const ins = valuesOf(node.inputs, values);
    let out: Tensor;
    setBackwardFollows(flows !== null && flows[node.slot] === 1);
    try {
      out = node.op.forward(ins, node.attrs);
    } catch (err) {
      blame(g, node, err);
    } finally {
      setBackwardFollows(true);
    }
    const shape = g.slots[node.slot]!.shape;
    if (!sameShape(out.shape, shape)) {
      throw new Error(`op ${node.op.name} at node "${node.id}" returned shape ${formatShape(out.shape)}, its shape rule says ${formatShape(shape)}`);
    }
    values[node.slot] = dtypeOf(out) === g.dtype ? out : cast(out, g.dtype);
    opts.observe?.(node, values[node.slot]!);
    for (const s of node.inputs) {
      if (lastUse[s] === t && !keep[s] && g.slots[s]!.kind === 'node') values[s] = undefined;
    }
  }
  return values;
}

/** A node's operands, from their slots. */
function valuesOf(inputs: readonly number[], values: Values): Tensor[] {
  const ins = new Array<Tensor>(inputs.length);
  for (let k = 0; k < inputs.length; k++) ins[k] = values[inputs[k]!]!;
  return ins;
}

export interface BackwardOptions {
  /** leaves (params, inputs) whose gradient is wanted */
  gradLeaves: ReadonlySet<number>;
  /** keep every node's adjoint and value (for `intermediates` and explain) */
  keepAll?: boolean;
}

/**
 * Reverse-mode accumulation from `seed` = dL/d(slot `from`). Each VJP result is summed back to its
 * input's shape here (ops never un-broadcast) and added to the input's adjoint, so a value read by
 * several nodes gets the sum of their contributions. Node values and adjoints are dropped once the
 * walk passes them unless `keepAll`. Returns the adjoints (of the grad leaves, and of every node with `keepAll`).
 */
export function runBackward(g: CompiledGraph, values: Values, from: number, seed: Tensor, opts: BackwardOptions): Values {
  const adj: Values = new Array(g.slots.length);
  // An adjoint may be a tensor an op handed back for several inputs (add's g, g) or the caller's
  // seed: it is only written in place once the engine owns a copy of it.
  const owned = new Uint8Array(g.slots.length);
  const { flows, needs: wanted } = flowsOf(g, opts.gradLeaves);
  const accumulate = (s: number, grad: Tensor) => {
    const prev = adj[s];
    if (prev === undefined) {
      adj[s] = grad;
    } else if (owned[s]) {
      addInto(prev, grad);
    } else {
      adj[s] = added(prev, grad);
      owned[s] = 1;
    }
  };
  accumulate(from, cast(seed, g.dtype));

  for (let t = g.nodes.length - 1; t >= 0; t--) {
    const node = g.nodes[t]!;
    const upstream = adj[node.slot];
    const out = values[node.slot]!;
    // every reader of this value comes later in topological order, so its VJP has already run
    if (!opts.keepAll) {
      adj[node.slot] = undefined;
      values[node.slot] = undefined;
    }
    if (upstream === undefined || !flows[node.slot]) continue;
    stopIfCancelled();
    const ins = valuesOf(node.inputs, values);
    // the gradients that reach a grad leaf; ops may skip the others (a first layer's input gradient)
    const needs = wanted[t]!;
    // an adjoint the engine owns may take this node's contribution in place (OpSpec.vjp)
    const into = new Array<Tensor | undefined>(ins.length);
    for (let k = 0; k < ins.length; k++) if (needs[k] && owned[node.inputs[k]!]) into[k] = adj[node.inputs[k]!];
    let grads: (Tensor | null)[];
    try {
      grads = node.op.vjp(ins, out, upstream, node.attrs, needs, into);
    } catch (err) {
      blame(g, node, err);
    }
    if (grads.length !== ins.length) {
      throw new Error(`op ${node.op.name}: vjp returned ${grads.length} gradients for ${ins.length} inputs`);
    }
    for (let k = 0; k < ins.length; k++) {
      const grad = grads[k];
      if (!needs[k] || grad === null || grad === undefined || grad === into[k]) continue;
      const s = node.inputs[k]!;
      const summed = sumToShape(grad, g.slots[s]!.shape);
      accumulate(s, dtypeOf(summed) === g.dtype ? summed : cast(summed, g.dtype));
    }
  }
  return adj;
}
