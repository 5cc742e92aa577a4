import type { OnnxModel, OnnxNode } from './decode.js';

// Erf has no op of its own in the engine: it comes from torch.onnx.export as part of exact GELU,
// x · ((erf(x / √2) + 1)) · 0.5, five nodes the importer reads as one gelu (opset 20's Gelu node is
// outside the supported opsets). The tanh form of GELU needs nothing: its Pow, Mul, Add and Tanh
// nodes are all ops of the engine and are imported as they are.

const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.abs(b);

/** The number a 1-element Constant node or initializer holds, if `name` is one. */
function scalarOf(model: OnnxModel, producers: Map<string, OnnxNode>, name: string): number | undefined {
  const init = model.initializers.get(name);
  const t = init !== undefined ? init.value() : producers.get(name)?.opType === 'Constant' ? producers.get(name)!.attrs.value : undefined;
  if (t === undefined || typeof t !== 'object' || Array.isArray(t) || t.data.length !== 1) return undefined;
  return t.data[0];
}

/**
 * The GELU chains of the graph: for each, its last node (which becomes gelu of the chain's input,
 * `replaced`) and the nodes before it (`skipped`). A chain is matched only when its intermediate values
 * feed nothing else, so skipping them changes nothing the graph computes.
 */
export function findGelus(model: OnnxModel): { replaced: Map<OnnxNode, string>; skipped: Set<OnnxNode> } {
  const producers = new Map<string, OnnxNode>();
  const readers = new Map<string, OnnxNode[]>();
  for (const n of model.nodes) {
    n.outputs.forEach((o) => producers.set(o, n));
    n.inputs.forEach((i) => readers.set(i, [...(readers.get(i) ?? []), n]));
  }
  const only = (value: string, op: string): OnnxNode | undefined => {
    const r = readers.get(value);
    return r?.length === 1 && r[0]!.opType === op && !model.outputs.includes(value) ? r[0] : undefined;
  };
  /** the operand of a two-input node other than `known`, and the scalar constant there if any */
  const other = (n: OnnxNode, known: string) => (n.inputs[0] === known ? n.inputs[1]! : n.inputs[0]!);
  const scalar = (name: string) => scalarOf(model, producers, name);

  const replaced = new Map<OnnxNode, string>();
  const skipped = new Set<OnnxNode>();
  for (const erf of model.nodes) {
    if (erf.opType !== 'Erf') continue;
    const scale = producers.get(erf.inputs[0]!);
    if (scale === undefined || !only(scale.outputs[0]!, 'Erf')) continue;
    let x: string | undefined;
    if (scale.opType === 'Div' && close(scalar(scale.inputs[1]!), Math.SQRT2)) x = scale.inputs[0];
    else if (scale.opType === 'Mul') {
      const [a, b] = scale.inputs as [string, string];
      x = close(scalar(b), Math.SQRT1_2) ? a : close(scalar(a), Math.SQRT1_2) ? b : undefined;
    }
    const plus = only(erf.outputs[0]!, 'Add');
    if (x === undefined || plus === undefined || !close(scalar(other(plus, erf.outputs[0]!)), 1)) continue;
    const times = only(plus.outputs[0]!, 'Mul');
    if (times === undefined || other(times, plus.outputs[0]!) !== x) continue;
    const half = only(times.outputs[0]!, 'Mul');
    if (half === undefined || !close(scalar(other(half, times.outputs[0]!)), 0.5)) continue;
    for (const n of [scale, erf, plus, times]) skipped.add(n);
    replaced.set(half, x);
  }
  return { replaced, skipped };
}
