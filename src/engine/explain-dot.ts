import type { CompiledGraph } from './graph.js';
import type { Values } from './run.js';
import { formatShape, type Tensor } from './tensor.js';

// The graph in Graphviz DOT: leaves as ellipses, ops as boxes labelled with op, value and gradient;
// scalar edges carry their local derivative.

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const quote = (s: string) => `"${esc(s)}"`;
/** a DOT label of several lines */
const multiline = (parts: string[]) => `"${parts.map(esc).join('\\n')}"`;

function show(t: Tensor | undefined): string {
  if (t === undefined) return '—';
  if (t.data.length === 1) {
    const x = t.data[0]!;
    return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  }
  return `tensor ${formatShape(t.shape)}`;
}

export function toDot(g: CompiledGraph, values: Values, adj: Values, locals: (Tensor | null)[][], name: (s: number) => string): string {
  const lines = ['digraph G {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=11];'];
  // one DOT node per slot that appears: every leaf read by a node, every node
  const used = new Set<number>();
  for (const node of g.nodes) for (const s of node.inputs) used.add(s);
  g.slots.forEach((slot, s) => {
    if (slot.kind === 'node' || !used.has(s)) return;
    const label = slot.kind === 'literal' ? [slot.label] : [name(s), slot.kind, `value = ${show(values[s])}`, `grad = ${show(adj[s])}`];
    const shape = slot.kind === 'literal' ? 'plaintext' : slot.kind === 'param' ? 'doubleoctagon' : 'ellipse';
    lines.push(`  ${quote(slot.name)} [label=${multiline(label)}, shape=${shape}];`);
  });
  g.nodes.forEach((node, t) => {
    const label = [`${name(node.slot)} = ${node.op.name}`, `value = ${show(values[node.slot])}`, `grad = ${show(adj[node.slot])}`];
    lines.push(`  ${quote(node.id)} [label=${multiline(label)}, shape=box];`);
    node.inputs.forEach((s, k) => {
      const j = locals[t]![k];
      // a node reading one value twice has two edges from it: each says which input it is
      const which = node.inputs.indexOf(s) !== node.inputs.lastIndexOf(s) ? ` (input ${k})` : '';
      const attrs = j && j.data.length === 1 ? ` [label=${quote(`∂${which} = ${show(j)}`)}]` : '';
      lines.push(`  ${quote(g.slots[s]!.name)} -> ${quote(node.id)}${attrs};`);
    });
  });
  lines.push('}');
  return lines.join('\n');
}
