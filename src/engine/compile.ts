import type { Limits } from './api.js';
import { overLimit, type Path } from './errors.js';
import type { CompiledGraph, CompiledNode, GraphDef, InputDef, Slot, SlotKind } from './graph.js';
import { Issues } from './issues.js';
import { nearest } from './zod-messages.js';
import type { AnyOp } from './op.js';
import { BEYOND_FLOAT32, cast, firstNonFinite, scalar, ShapeError, size, type DType, type Shape, type Tensor } from './tensor.js';
import { findCycles } from './topo.js';

export interface CompileOptions {
  ops: ReadonlyMap<string, AnyOp>;
  dtype: DType;
  limits: Limits;
}

const KIND_WORDS: Record<SlotKind, string> = {
  input: 'an input',
  param: 'a param',
  constant: 'a constant',
  literal: 'a literal',
  node: 'a node',
};

function arityText(op: AnyOp): string {
  return op.minArity === op.maxArity ? `${op.minArity}` : `${op.minArity} to ${op.maxArity}`;
}

function validShape(shape: unknown): shape is Shape {
  return Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0);
}

/**
 * Validates a graph definition and sorts it. Every independent problem (duplicate or unknown ids,
 * unknown ops, arity, attrs, cycles, shapes) is collected into one SpecError naming its request path.
 * Nothing is allocated for node values: the element limit is checked from the inferred shapes.
 */
export function compile(def: GraphDef, { ops, dtype, limits }: CompileOptions): CompiledGraph {
  const n = def.nodes.length;
  if (n > limits.maxNodes) throw overLimit(['model'], `${n} graph nodes`, limits.maxNodes, 'MAX_NODES');
  const issues = new Issues();
  const names: string[] = [];
  const labels: string[] = [];
  const kinds: SlotKind[] = [];
  const shapes: (Shape | undefined)[] = [];
  const slotOf = new Map<string, number>();
  const fixed = new Map<number, Tensor>();

  const addSlot = (name: string, label: string, kind: SlotKind, shape: Shape | undefined): number => {
    names.push(name);
    labels.push(label);
    kinds.push(kind);
    shapes.push(shape);
    return names.length - 1;
  };
  const declare = (name: string, kind: SlotKind, shape: Shape | undefined, path: () => Path): number => {
    const prev = slotOf.get(name);
    if (prev !== undefined) {
      issues.add(path(), `"${name}" is already the id of ${KIND_WORDS[kinds[prev]!]}; ids must be unique`);
      return -1;
    }
    const s = addSlot(name, name, kind, shape);
    slotOf.set(name, s);
    return s;
  };

  const leaf = (l: InputDef, kind: SlotKind) => declare(l.name, kind, l.shape, () => l.path);
  def.inputs.forEach((l) => leaf(l, 'input'));
  def.params.forEach((l) => leaf(l, 'param'));
  for (const c of def.constants) {
    const s = leaf(c, 'constant');
    if (s < 0) continue;
    const value = cast(c.value, dtype);
    // a finite constant that float32 holds as ±Infinity (a class weight of 1e39) is refused like a literal
    const bad = firstNonFinite(value.data);
    if (bad >= 0 && Number.isFinite(c.value.data[bad]!)) issues.add([...c.path, bad], `${c.value.data[bad]} ${BEYOND_FLOAT32}`);
    fixed.set(s, value);
  }

  // Node ids first, so nodes may refer to nodes listed after them.
  const nodeSlot = new Int32Array(n).fill(-1);
  const nodeOfSlot = new Map<number, number>();
  const nodePath = (i: number): Path => def.nodes[i]!.path ?? def.nodePath(i);
  def.nodes.forEach((d, i) => {
    const s = declare(d.id, 'node', undefined, () => [...nodePath(i), 'id']);
    nodeSlot[i] = s;
    if (s >= 0) nodeOfSlot.set(s, i);
  });

  const literals = new Map<string, number>();
  const literal = (v: number): number => {
    const key = Object.is(v, -0) ? '-0' : String(v);
    let s = literals.get(key);
    if (s === undefined) {
      s = addSlot(`#literal:${key}`, key, 'literal', []);
      literals.set(key, s);
      fixed.set(s, scalar(v, dtype));
    }
    return s;
  };

  const inputPath = (i: number, k: number): Path => def.nodes[i]!.inputPaths?.[k] ?? [...nodePath(i), 'inputs', k];
  const good = new Uint8Array(n);
  const opOf: (AnyOp | undefined)[] = new Array(n);
  const attrsOf: unknown[] = new Array(n);
  const inputsOf: number[][] = new Array(n);
  def.nodes.forEach((d, i) => {
    let ok = nodeSlot[i]! >= 0;
    const op = ops.get(d.op);
    opOf[i] = op;
    if (op === undefined) {
      const near = nearest(d.op, [...ops.keys()]).map((n) => `"${n}"`);
      issues.add([...nodePath(i), 'op'], `unknown op "${d.op}" (${near.length > 0 ? `did you mean ${near.join(' or ')}? ` : ''}GET /v1/ops lists the ops)`);
      ok = false;
    } else {
      if (d.inputs.length < op.minArity || d.inputs.length > op.maxArity) {
        issues.add([...nodePath(i), 'inputs'], `${op.name} takes ${arityText(op)} inputs, got ${d.inputs.length}`);
        ok = false;
      }
      try {
        attrsOf[i] = op.parseAttrs(d.attrs ?? {});
      } catch (err) {
        issues.addZod(err, d.attrsPath ?? [...nodePath(i), 'attrs']);
        ok = false;
      }
    }
    inputsOf[i] = d.inputs.map((ref, k) => {
      if (typeof ref === 'number') {
        // a finite literal that float32 holds as ±Infinity is refused as a non-finite one is (wire/integers.ts checkFloat32Range)
        if (Number.isFinite(ref) && (dtype === 'float64' || Number.isFinite(Math.fround(ref)))) return literal(ref);
        issues.add(
          inputPath(i, k),
          Number.isFinite(ref)
            ? `the literal ${ref} ${BEYOND_FLOAT32}`
            : 'a number literal must be finite',
        );
      } else {
        const s = slotOf.get(ref);
        if (s !== undefined) return s;
        issues.add(inputPath(i, k), `unknown reference "${ref}": no input, param, constant or node has this id`);
      }
      ok = false;
      return -1;
    });
    good[i] = ok ? 1 : 0;
  });

  const { order, cycles } = findCycles(n, (i, k) => {
    const s = inputsOf[i]![k]!;
    return s >= 0 && kinds[s] === 'node' ? nodeOfSlot.get(s)! : -1;
  }, (i) => inputsOf[i]!.length);
  for (const cycle of cycles) {
    const ids = cycle.flow.map((i) => def.nodes[i]!.id);
    issues.add(inputPath(cycle.flow[0]!, cycle.input), `cycle: ${[...ids, ids[0]].join(' → ')} (a graph must be acyclic)`);
  }

  let workspace = 0;
  for (const i of order) {
    const op = opOf[i];
    const ins = inputsOf[i]!;
    if (!good[i] || op === undefined || ins.some((s) => shapes[s] === undefined)) continue;
    try {
      const inShapes = ins.map((s) => shapes[s]!);
      const shape = op.shape(inShapes, attrsOf[i]);
      if (!validShape(shape)) throw new Error(`op ${op.name}: shape rule returned ${String(shape)}`);
      shapes[nodeSlot[i]!] = shape;
      workspace += op.workspace?.(inShapes, attrsOf[i]) ?? 0;
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      const at = err.input !== undefined && err.input < ins.length ? inputPath(i, err.input) : nodePath(i);
      issues.add(at, err.message.startsWith(op.name) ? err.message : `${op.name}: ${err.message}`);
    }
  }

  const output = slotOf.get(def.output.id);
  if (output === undefined) issues.add(def.output.path, `output "${def.output.id}" is not the id of a node, input, param or constant`);
  issues.throwIfAny();

  let elements = workspace;
  // a value whose shape waits for the data (InputDef) counts when the data comes
  for (const s of shapes) elements += s === undefined ? 0 : size(s);
  if (elements > limits.maxElements) {
    throw overLimit(['model'], `the graph's values need ${elements} elements`, limits.maxElements, 'MAX_ELEMENTS');
  }

  const slots: Slot[] = names.map((name, s) => ({ name, label: labels[s]!, kind: kinds[s]!, shape: shapes[s]! }));
  const producer = new Int32Array(slots.length).fill(-1);
  const nodes: CompiledNode[] = order.map((i, t) => {
    producer[nodeSlot[i]!] = t;
    return { slot: nodeSlot[i]!, id: def.nodes[i]!.id, op: opOf[i]!, attrs: attrsOf[i], inputs: inputsOf[i]!, index: i };
  });
  const pathOf = (node: CompiledNode, k?: number) => (k === undefined ? nodePath(node.index) : inputPath(node.index, k));
  return { dtype, slots, slotOf, nodes, producer, fixed, output: output!, elements, pathOf };
}
