import type { Path } from './errors.js';
import type { LeafDef, NodeDef } from './graph.js';
import type { InitSpec } from './init/index.js';
import type { Activation, MlpSpec } from './spec.js';

// An MLP is expanded into the same graph machinery as a user graph: per layer a `linear` node, then
// LayerNorm on hidden layers, the activation, and a residual `add` where the widths match.

/** A trainable tensor with how to create it when the request does not give it. */
export interface ParamDecl extends LeafDef {
  init: InitSpec;
  /** fans for initializers that need them (a bias takes its weight's) */
  fanIn?: number;
  fanOut?: number;
  /** where the init spec sits in the request */
  initPath: Path;
}

export interface MlpExpansion {
  /** the id of the one input, `[batch, inputSize]` */
  input: string;
  output: string;
  nodes: NodeDef[];
  params: ParamDecl[];
  /** weight names in layer order, for the layer-ratio diagnostics */
  weights: string[];
  /** layer index of each node id, for naming a layer in diagnostics */
  layerOf: Map<string, number>;
}

export const MLP_INPUT = 'inputs';

const DEFAULT_INIT: InitSpec = { scheme: 'default', seed: 0 };
const ONES: InitSpec = { scheme: 'ones', seed: 0 };
const ZEROS: InitSpec = { scheme: 'zeros', seed: 0 };

function activationOf(a: Activation): { op: string; attrs?: Record<string, unknown> } {
  if (typeof a === 'string') return { op: a };
  const { type, ...attrs } = a;
  return { op: type, attrs };
}

/** Identity with no attributes adds nothing: it gets no node. */
function isPlainIdentity(a: Activation): boolean {
  const { op, attrs } = activationOf(a);
  return op === 'identity' && (attrs === undefined || Object.keys(attrs).length === 0);
}

/** How many graph nodes `spec` expands to, found before building them (for the node limit). */
export function mlpNodeCount(spec: MlpSpec): number {
  let n = 0;
  let width = spec.inputSize;
  spec.layers.forEach((layer, i) => {
    const hidden = i < spec.layers.length - 1;
    n += 1 + (hidden && spec.norm === 'layernorm' ? 1 : 0) + (isPlainIdentity(layer.activation) ? 0 : 1);
    n += spec.residual && width === layer.units ? 1 : 0;
    width = layer.units;
  });
  return n;
}

export function expandMlp(spec: MlpSpec): MlpExpansion {
  const init = spec.init ?? DEFAULT_INIT;
  const nodes: NodeDef[] = [];
  const params: ParamDecl[] = [];
  const weights: string[] = [];
  const layerOf = new Map<string, number>();
  const initPath: Path = ['model', 'init'];
  let x = MLP_INPUT;
  let width = spec.inputSize;
  spec.layers.forEach((layer, i) => {
    const at: Path = ['model', 'layers', i];
    const p = `layers.${i}`;
    const node = (d: NodeDef) => {
      nodes.push(d);
      layerOf.set(d.id, i);
      return d.id;
    };
    const param = (name: string, shape: number[], spec: InitSpec, path: Path) =>
      params.push({ name, shape, init: spec, fanIn: width, fanOut: layer.units, path: ['params', name], initPath: path });

    param(`${p}.weight`, [layer.units, width], init, initPath);
    weights.push(`${p}.weight`);
    const linInputs = [x, `${p}.weight`];
    // NOTE: with the default scheme the bias is U(±1/√fan_in) with its weight's fan_in, as nn.Linear;
    // other schemes are applied to the bias with the weight's fans too.
    if (spec.bias) {
      param(`${p}.bias`, [layer.units], init, initPath);
      linInputs.push(`${p}.bias`);
    }
    let h = node({ id: `${p}.linear`, op: 'linear', inputs: linInputs, path: at });
    if (spec.norm === 'layernorm' && i < spec.layers.length - 1) {
      param(`${p}.norm.weight`, [layer.units], ONES, ['model', 'norm']);
      param(`${p}.norm.bias`, [layer.units], ZEROS, ['model', 'norm']);
      h = node({ id: `${p}.norm`, op: 'layernorm', inputs: [h, `${p}.norm.weight`, `${p}.norm.bias`], path: ['model', 'norm'] });
    }
    if (!isPlainIdentity(layer.activation)) {
      const { op, attrs } = activationOf(layer.activation);
      const actPath = [...at, 'activation'];
      h = node({ id: `${p}.activation`, op, inputs: [h], attrs, path: actPath, attrsPath: actPath });
    }
    if (spec.residual && width === layer.units) {
      h = node({ id: `${p}.residual`, op: 'add', inputs: [h, x], path: ['model', 'residual'] });
    }
    x = h;
    width = layer.units;
  });
  return { input: MLP_INPUT, output: x, nodes, params, weights, layerOf };
}
