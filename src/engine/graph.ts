import type { Path } from './errors.js';
import type { AnyOp } from './op.js';
import type { DType, Shape, Tensor } from './tensor.js';

// The compiler's input (a graph definition with the request paths to blame) and its output (a
// validated, topologically sorted graph whose every value has a known shape). Both model kinds, the
// appended loss and the number literals end up in this one form.

/** An operation to compile; `path` is where it sits in the request (default: GraphDef.nodePath). */
export interface NodeDef {
  id: string;
  op: string;
  inputs: readonly (string | number)[];
  attrs?: unknown;
  path?: Path;
  /** where each input is named in the request; default `[...path, 'inputs', k]` */
  inputPaths?: readonly Path[];
  /** where the attrs are; default `[...path, 'attrs']` */
  attrsPath?: Path;
}

export interface LeafDef {
  name: string;
  shape: Shape;
  path: Path;
}

/** A data tensor; without a shape (a model checked before any data), what depends on it is not inferred. */
export type InputDef = Omit<LeafDef, 'shape'> & { shape?: Shape };

export interface GraphDef {
  /** data tensors: their values come with each run */
  inputs: readonly InputDef[];
  /** trainable tensors: their values come with each run */
  params: readonly LeafDef[];
  /** fixed tensors, part of the definition */
  constants: readonly (LeafDef & { value: Tensor })[];
  /** in any order */
  nodes: readonly NodeDef[];
  /**
   * the request path of node i without a `path` of its own; paths are made only for error messages,
   * so a 300,000-node graph does not carry 300,000 path arrays
   */
  nodePath: (i: number) => Path;
  output: { id: string; path: Path };
}

export type SlotKind = 'input' | 'param' | 'constant' | 'literal' | 'node';

/** A value of the graph: a leaf or the output of a node. */
export interface Slot {
  /** the id it is referred to by (a literal's is internal, see `label`) */
  name: string;
  /** what to show for it: the id, or a literal's number */
  label: string;
  kind: SlotKind;
  shape: Shape;
}

export interface CompiledNode {
  /** the slot holding this node's value */
  slot: number;
  id: string;
  op: AnyOp;
  attrs: unknown;
  /** slots of the operands, in order */
  inputs: readonly number[];
  /** position in the definition's node list */
  index: number;
}

export interface CompiledGraph {
  dtype: DType;
  slots: readonly Slot[];
  /** slot index by id (inputs, params, constants, nodes); literals are not in it */
  slotOf: ReadonlyMap<string, number>;
  /** topological order */
  nodes: readonly CompiledNode[];
  /** index into `nodes` of the node writing each slot, -1 for leaves */
  producer: Int32Array;
  /** values of constants and literals, already in `dtype` */
  fixed: ReadonlyMap<number, Tensor>;
  output: number;
  /** every element of every value: what the element limit counts */
  elements: number;
  /** where a node, or its k-th input, sits in the request (for errors found while running) */
  pathOf: (node: CompiledNode, input?: number) => Path;
}
