import type { DecodedModel, Limits } from './api.js';
import { compile } from './compile.js';
import { LimitError } from './errors.js';
import type { GraphDef } from './graph.js';
import { expandMlp, mlpNodeCount } from './mlp.js';
import type { AnyOp } from './op.js';

// A model checked on its own, before any data: what a registered model is known to be.

export interface ModelSummary {
  params: { name: string; shape: number[] }[];
  /** graph nodes (an MLP's after expansion) */
  nodes: number;
  /** how many nodes use each op */
  ops: Record<string, number>;
}

/**
 * Compiles the model with what does not depend on the data: ids, ops, arity, attrs, references,
 * cycles, the output, and the shapes that follow from params and constants alone (an MLP's from a
 * one-row batch). Throws the SpecError or LimitError a request with this model would get.
 */
export function checkModel(model: DecodedModel, limits: Limits, ops: ReadonlyMap<string, AnyOp>): ModelSummary {
  let def: GraphDef;
  if (model.type === 'mlp') {
    const count = mlpNodeCount(model);
    if (count > limits.maxNodes) throw new LimitError(['model', 'layers'], `the MLP expands to ${count} graph nodes, over the limit of ${limits.maxNodes}`);
    const mlp = expandMlp(model);
    def = {
      inputs: [{ name: mlp.input, shape: [1, model.inputSize], path: ['inputs'] }],
      params: mlp.params,
      constants: [],
      nodes: mlp.nodes,
      nodePath: () => ['model'],
      output: { id: mlp.output, path: ['model', 'layers'] },
    };
  } else {
    def = {
      inputs: model.inputs.map((name, i) => ({ name, path: ['model', 'inputs', i] })),
      params: Object.entries(model.params).map(([name, p]) => ({ name, shape: p.shape, path: ['model', 'params', name] })),
      constants: Object.entries(model.constants).map(([name, value]) => ({ name, shape: value.shape, value, path: ['model', 'constants', name] })),
      nodes: model.nodes,
      nodePath: (i) => ['model', 'nodes', i],
      output: { id: model.output, path: ['model', 'output'] },
    };
  }
  const graph = compile(def, { ops, dtype: 'float64', limits });
  const counts: Record<string, number> = {};
  for (const node of graph.nodes) counts[node.op.name] = (counts[node.op.name] ?? 0) + 1;
  return {
    params: def.params.map((p) => ({ name: p.name, shape: [...p.shape] })),
    nodes: graph.nodes.length,
    ops: Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}
