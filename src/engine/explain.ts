import type { Limits, ModelJob } from './api.js';
import { LimitError } from './errors.js';
import { seedOf } from './evaluate.js';
import { EXPLAIN_LIMITS, type ExplainGradient, type ExplainNode, type ExplainResult } from './explain-schema.js';
import { toDot } from './explain-dot.js';
import type { CompiledGraph, CompiledNode } from './graph.js';
import { BACKWARD_PASSES, SMALLER_BATCH, withinBudget } from './cost.js';
import { buildModel, LOSS_ID, LOSS_WEIGHT_ID, TARGETS_ID } from './model.js';
import { finite, toNested } from './nested.js';
import type { AnyOp } from './op.js';
import { runBackward, runForward, type Values } from './run.js';
import { cast, formatShape, size, sumToShape, zeros, type Tensor } from './tensor.js';

export { EXPLAIN_LIMITS, ExplainResultSchema, type ExplainResult } from './explain-schema.js';

/** Display names: the engine's own ids ("#loss") get a readable name no user id takes. */
function namer(g: CompiledGraph): (slot: number) => string {
  const pick = (options: string[], fallback: string) => options.find((o) => !g.slotOf.has(o)) ?? fallback;
  const lossName = pick(['L', 'loss'], LOSS_ID);
  const targetsName = pick(['targets', 't'], TARGETS_ID);
  const weightName = pick(['weight', 'class_weight'], LOSS_WEIGHT_ID);
  return (s) => {
    const slot = g.slots[s]!;
    if (slot.name === LOSS_ID) return lossName;
    if (slot.name === TARGETS_ID) return targetsName;
    if (slot.name === LOSS_WEIGHT_ID) return weightName;
    return slot.label;
  };
}

/**
 * ∂node/∂input_k for every input: row j of the Jacobian is the VJP of the one-hot upstream gradient
 * e_j, summed back to the input's shape. Null where the op gives that input no gradient.
 */
function jacobians(node: CompiledNode, values: Values, g: CompiledGraph): (Tensor | null)[] {
  const ins = node.inputs.map((s) => values[s]!);
  const out = values[node.slot]!;
  const m = out.data.length;
  const jac = ins.map((x, k) => (node.op.nonDifferentiable?.includes(k) ? null : zeros([...out.shape, ...x.shape], g.dtype)));
  for (let j = 0; j < m; j++) {
    const e = zeros(out.shape, g.dtype);
    e.data[j] = 1;
    const grads = node.op.vjp(ins, out, e, node.attrs);
    ins.forEach((x, k) => {
      const grad = grads[k];
      if (grad === null || grad === undefined) jac[k] = null;
      else jac[k]?.data.set(sumToShape(grad, x.shape).data, j * x.data.length);
    });
  }
  return jac;
}

const fmt = (x: number | null): string => {
  if (x === null) return 'NaN';
  const s = Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
  return s.startsWith('-') ? `−${s.slice(1)}` : s;
};

export function explain(job: ModelJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>): ExplainResult {
  const lim: Limits = {
    maxNodes: Math.min(limits.maxNodes, EXPLAIN_LIMITS.maxNodes),
    maxElements: Math.min(limits.maxElements, EXPLAIN_LIMITS.maxElements),
    maxFlops: limits.maxFlops,
  };
  const m = buildModel(job, lim, { ops, dtype: 'float64' });
  withinBudget(m.graph, lim, { what: 'a forward and a backward pass', passes: 1 + BACKWARD_PASSES, path: ['model'], lower: SMALLER_BATCH });
  const g = m.graph;
  let entries = 0;
  for (const node of g.nodes) for (const s of node.inputs) entries += size(g.slots[node.slot]!.shape) * size(g.slots[s]!.shape);
  if (entries > EXPLAIN_LIMITS.maxJacobianEntries) {
    throw new LimitError(['model'], `the local Jacobians would have ${entries} entries; explain allows ${EXPLAIN_LIMITS.maxJacobianEntries}`);
  }
  const seed = seedOf(m, job.outputGrad && cast(job.outputGrad, 'float64'));
  const values = runForward(g, m.leaves, { targets: [seed.from], all: true });
  const leafSlots = g.slots.flatMap((s, i) => (s.kind === 'node' || s.kind === 'literal' ? [] : [i]));
  const adj = runBackward(g, values, seed.from, seed.seed, { gradLeaves: new Set(leafSlots), keepAll: true });
  const name = namer(g);
  const nested = (t: Tensor | undefined) => (t === undefined ? null : toNested(t.shape, t.data));

  const locals = g.nodes.map((node) => jacobians(node, values, g));
  const nodes: ExplainNode[] = leafSlots.map((s) => ({
    id: name(s),
    kind: g.slots[s]!.kind as 'input' | 'param' | 'constant',
    op: null,
    derivative: null,
    shape: [...g.slots[s]!.shape],
    value: nested(values[s]),
    adjoint: nested(adj[s]),
    edges: [],
  }));
  g.nodes.forEach((node, t) => {
    nodes.push({
      id: name(node.slot),
      kind: 'node',
      op: node.op.name,
      derivative: node.op.derivative,
      shape: [...g.slots[node.slot]!.shape],
      value: nested(values[node.slot]),
      adjoint: nested(adj[node.slot]),
      edges: node.inputs.map((s, k) => {
        const j = locals[t]![k]!;
        const scalarEdge = j !== null && j.data.length === 1;
        return {
          input: k,
          from: name(s),
          local: j === null ? null : scalarEdge ? finite(j.data[0]!) : toNested(j.shape, j.data),
          shape: [...g.slots[node.slot]!.shape, ...g.slots[s]!.shape],
        };
      }),
    });
  });

  const wide = g.slots.findIndex((s) => size(s.shape) !== 1);
  const scalar = wide < 0;
  const loss = job.outputGrad ? null : finite(values[seed.from]!.data[0]!);
  const gradients = scalar ? pathSums(g, locals, adj, seed, name, !!job.outputGrad, m.params) : [];
  const result: ExplainResult = { loss, output: name(m.output), scalar, nodes, gradients, dot: toDot(g, values, adj, locals, name) };
  if (!scalar) {
    result.note =
      `gradients is empty: path sums are written out only when every value is a scalar, and "${name(wide)}" has shape ` +
      `${formatShape(g.slots[wide]!.shape)}. The chain rule is in nodes: each node's adjoint (dL/d value) and its edges' ` +
      'local Jacobians; a parameter\'s adjoint is its gradient.';
  }
  return result;
}

/** Each parameter's gradient of a scalar graph as Σ over paths of Π of the local derivatives on the path. */
function pathSums(
  g: CompiledGraph,
  locals: (Tensor | null)[][],
  adj: Values,
  seed: { from: number; seed: Tensor },
  name: (s: number) => string,
  seeded: boolean,
  params: Record<string, Tensor>,
): ExplainGradient[] {
  const root = seed.from;
  // with outputGrad, L is not a node: dL/d(output) is the path's first factor
  const lossName = seeded ? (name(root) === 'L' ? 'loss' : 'L') : name(root);
  const head = seeded ? [{ text: `d${lossName}/d${name(root)}`, value: seed.seed.data[0]! }] : [];
  return Object.keys(params).map((param) => {
    const p = g.slotOf.get(param)!;
    const lhs = `d${lossName}/d${param}`;
    const { paths, truncated } = enumeratePaths(g, locals, root, p);
    const listed = paths.map((edges) => {
      const steps = edges.map(([t, k]) => {
        const node = g.nodes[t]!;
        const s = node.inputs[k]!;
        return { text: stepText(name(node.slot), name(s), k, node.inputs.indexOf(s) !== node.inputs.lastIndexOf(s), lhs), value: locals[t]![k]!.data[0]!, to: name(s) };
      });
      const factors = [...head, ...steps];
      const product = factors.reduce((acc, f) => acc * f.value, 1);
      return { nodes: [name(root), ...steps.map((s) => s.to)], factors, product };
    });
    const gradient = listed.reduce((acc, l) => acc + l.product, 0);
    const backprop = adj[p] === undefined ? 0 : adj[p]!.data[0]!;
    let formula: string;
    if (listed.length === 0) formula = `${lhs} = 0 (${lossName} does not depend on ${param})`;
    else {
      const symbolic = listed.map((l) => (l.factors.length ? l.factors.map((f) => f.text).join(' · ') : '1')).join(' + ');
      const numeric = listed.map((l) => (l.factors.length ? l.factors.map((f) => `(${fmt(f.value)})`).join('·') : '1')).join(' + ');
      // cut short, the listed paths' sum is not the gradient: the whole one is backpropagation's
      formula = truncated
        ? `${lhs} = ${symbolic} + … = ${numeric} + … = ${fmt(backprop)} (backpropagation; the ${listed.length} paths listed add up to ${fmt(gradient)})`
        : `${lhs} = ${symbolic} = ${numeric} = ${fmt(gradient)}`;
    }
    return {
      param,
      gradient: finite(gradient),
      backprop: finite(backprop),
      formula,
      paths: listed.map((l) => ({ nodes: l.nodes, factors: l.factors.map((f) => finite(f.value)), product: finite(l.product) })),
      truncated,
    };
  });
}

/**
 * One step's local derivative as the formula writes it: d<node>/d<input>, but as a partial where that name
 * would say two things. A node reading one value at several inputs has one edge per input, each its own
 * term, so the input's position is named; and a step named like the gradient being explained (the output
 * reading the parameter itself) is the local share of that gradient, not the gradient.
 */
function stepText(node: string, input: string, k: number, readTwice: boolean, lhs: string): string {
  if (readTwice) return `∂${node}/∂${input} (as input ${k} of ${node})`;
  const plain = `d${node}/d${input}`;
  return plain === lhs ? `∂${node}/∂${input}` : plain;
}

/**
 * The paths from `root` down to `target` as lists of edges [node position, input index], found by an
 * explicit-stack DFS through the values that depend on `target` (a value used twice by one node gives
 * two paths, which is why gradients accumulate).
 */
function enumeratePaths(g: CompiledGraph, locals: (Tensor | null)[][], root: number, target: number): { paths: [number, number][][]; truncated: boolean } {
  const reach = new Uint8Array(g.slots.length);
  reach[target] = 1;
  g.nodes.forEach((node, t) => {
    if (node.inputs.some((s, k) => reach[s] && locals[t]![k] !== null)) reach[node.slot] = 1;
  });
  const paths: [number, number][][] = [];
  if (!reach[root]) return { paths, truncated: false };
  const stack: { slot: number; next: number; via?: [number, number] }[] = [{ slot: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.slot === target) {
      if (paths.length === EXPLAIN_LIMITS.maxPathsPerParam) return { paths, truncated: true };
      paths.push(stack.slice(1).map((f) => f.via!));
      stack.pop();
      continue;
    }
    const t = g.producer[top.slot]!;
    const node = g.nodes[t];
    let k = top.next;
    while (node && k < node.inputs.length && !(reach[node.inputs[k]!] && locals[t]![k] !== null)) k++;
    if (!node || k >= node.inputs.length) {
      stack.pop();
      continue;
    }
    top.next = k + 1;
    stack.push({ slot: node.inputs[k]!, next: 0, via: [t, k] });
  }
  return { paths, truncated: false };
}
