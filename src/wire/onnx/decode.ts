import protobuf from 'protobufjs';
import type { Limits } from '../../engine/api.js';
import { MalformedError, overLimit, SpecError, type Path } from '../../engine/errors.js';
import { size, type Tensor } from '../../engine/tensor.js';
import schema from './onnx.proto.json' with { type: 'json' };

// An ONNX file (a ModelProto, the official schema onnx.proto vendored beside this file) read into the
// plain form the importer walks: its opset, nodes with their attributes, initializers, inputs and
// outputs. Decoding is protobufjs's; what is checked here is what makes a file unusable whatever its
// ops: the opset, external data, tensor types and the size limits, before any tensor is widened.

export const OPSET_MIN = 13;
export const OPSET_MAX = 18;
export const MODEL_PATH: Path = ['model', 'bytes'];

const root = protobuf.Root.fromJSON(schema);
const ModelProto = root.lookupType('onnx.ModelProto');
/** AttributeProto.AttributeType's names by number ('INT', 'FLOATS', ...) */
const ATTRIBUTE_TYPES = root.lookupEnum('onnx.AttributeProto.AttributeType').valuesById;

/** TensorProto.DataType values the service reads (as float64 numbers); the others are refused. */
const DTYPES: Record<number, string> = { 1: 'float', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'double' };
const FLOAT_TYPES = new Set([1, 11]);

/**
 * The tensors (widened to float64) whose ONNX type is an integer or bool, and what the importer computes
 * from them alone: ONNX's Div of integers truncates (shape arithmetic: a dimension over the heads).
 */
export const INTEGER = new WeakSet<Tensor>();

/** The fields of onnx.proto's messages that are read, as protobufjs's toObject gives them. */
interface TensorProto {
  name?: string;
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  raw_data?: Uint8Array;
  data_location?: number;
  external_data?: unknown[];
}
interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}
interface NodeProto {
  name?: string;
  op_type?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: AttributeProto[];
}
interface ValueInfoProto {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number; dim_param?: string }[] } } };
}
interface GraphProto {
  node?: NodeProto[];
  initializer?: TensorProto[];
  sparse_initializer?: unknown[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
}
interface ModelProtoObject {
  ir_version?: number;
  opset_import?: { domain?: string; version?: number }[];
  graph?: GraphProto;
  functions?: unknown[];
}

export type AttrValue = number | string | number[] | Tensor;

export interface OnnxNode {
  /** its index in the file's graph.node */
  index: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** every attribute's AttributeProto type by name ('INT', 'FLOATS', ...), those `attrs` leaves out too */
  attrTypes: Record<string, string>;
}

export interface OnnxInput {
  name: string;
  /** a fixed dimension, or the name of a symbolic one (null when unnamed) */
  dims: (number | string | null)[] | null;
}

export interface OnnxInitializer {
  name: string;
  shape: number[];
  /** float or double: a trainable parameter unless used only where a constant is expected */
  float: boolean;
  /** widened to float64, on first use (integers are exact up to 2^53) */
  value: () => Tensor;
}

export interface OnnxModel {
  opset: number;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxInitializer>;
  inputs: OnnxInput[];
  outputs: string[];
}

const tensorPath = (name: string | undefined): Path => ['model', 'graph', 'initializer', name ?? ''];

/** The elements of a TensorProto as float64, from whichever field holds them. */
function values(t: TensorProto, path: Path): Float64Array {
  const type = t.data_type ?? 0;
  const n = size(t.dims ?? []);
  const raw = t.raw_data;
  let out: Float64Array;
  if (raw !== undefined && raw.length > 0) {
    const width = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 11: 8 }[type]!;
    if (raw.length !== n * width) throw new SpecError(path, `raw_data holds ${raw.length} bytes, not the ${n * width} of ${n} ${DTYPES[type]} elements`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const read: (i: number) => number = {
      1: (i: number) => view.getFloat32(i * 4, true),
      2: (i: number) => view.getUint8(i),
      3: (i: number) => view.getInt8(i),
      5: (i: number) => view.getInt16(i * 2, true),
      6: (i: number) => view.getInt32(i * 4, true),
      7: (i: number) => Number(view.getBigInt64(i * 8, true)),
      9: (i: number) => view.getUint8(i),
      11: (i: number) => view.getFloat64(i * 8, true),
    }[type]!;
    out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = read(i);
    return out;
  }
  const list = type === 1 ? t.float_data : type === 11 ? t.double_data : type === 7 ? t.int64_data : t.int32_data;
  if ((list?.length ?? 0) !== n) throw new SpecError(path, `holds ${list?.length ?? 0} elements, not the ${n} of its dims [${(t.dims ?? []).join(', ')}]`);
  return Float64Array.from(list ?? []);
}

/** Checks a TensorProto's type, location and dims; its values are read later, when the limits passed. */
function tensorOf(t: TensorProto, path: Path): { shape: number[]; float: boolean; value: () => Tensor } {
  if (t.data_location === 1 || (t.external_data?.length ?? 0) > 0) {
    throw new SpecError(path, 'its data is stored outside the file (external data), which the service does not read: save the model with all tensors inside it (onnx.save(model, path, save_as_external_data=False))');
  }
  const type = t.data_type ?? 0;
  if (DTYPES[type] === undefined) throw new SpecError(path, `element type ${type} (TensorProto.DataType) is not supported; supported: ${Object.values(DTYPES).join(', ')}`);
  const shape = (t.dims ?? []).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new SpecError(path, `invalid dims [${shape.join(', ')}]`);
  let cached: Tensor | undefined;
  const float = FLOAT_TYPES.has(type);
  const value = (): Tensor => {
    if (cached === undefined) {
      cached = { shape, data: values(t, path) };
      if (!float) INTEGER.add(cached);
    }
    return cached;
  };
  return { shape, float, value };
}

function attrValue(a: AttributeProto, path: Path): AttrValue | undefined {
  switch (a.type) {
    case 1: return a.f ?? 0;
    case 2: return a.i ?? 0;
    case 3: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case 4: return tensorOf(a.t ?? {}, path).value();
    case 6: return a.floats ?? [];
    case 7: return a.ints ?? [];
    default: return undefined; // graphs, strings lists: no supported op reads them
  }
}

/** ModelProto's `graph` field, GraphProto's `node`, and its other lists: their numbers in onnx.proto. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_LISTS = new Set([5, 11, 12, 13, 14, 15]); // initializer, input, output, value_info, quantization_annotation, sparse_initializer
/** A graph may list this many times MAX_NODES entries besides its nodes (initializers, inputs, outputs, value_info). */
const ENTRIES_PER_NODE = 4;

/**
 * The nodes and the other entries of the file's top-level graph, counted from the protobuf's field
 * headers without decoding a message: decoding costs time by the message, and a body under the byte
 * limit can hold millions of empty ones (4 million nodes in 10 MB took 25 s). Null where the bytes
 * are not well-formed protobuf; the decoder then says why.
 */
function graphCounts(bytes: Uint8Array): { nodes: number; entries: number } | null {
  let at = 0;
  const varint = (): number | null => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) return null;
      const b = bytes[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return null;
  };
  /** Walks the fields of the message in [at, end), calling `field` on each length-delimited one. */
  const fields = (end: number, field: (num: number, from: number, to: number) => void): boolean => {
    while (at < end) {
      const key = varint();
      if (key === null) return false;
      const type = key % 8;
      if (type === 0) {
        if (varint() === null) return false;
      } else if (type === 1 || type === 5) {
        at += type === 1 ? 8 : 4;
      } else if (type === 2) {
        const len = varint();
        if (len === null || at + len > end) return false;
        field(Math.floor(key / 8), at, at + len);
        at += len;
      } else return false;
    }
    return at === end;
  };
  let counts: { nodes: number; entries: number } | null = { nodes: 0, entries: 0 };
  const ok = fields(bytes.length, (num, from, to) => {
    if (num !== MODEL_GRAPH || counts === null) return;
    const back = at;
    at = from;
    const c = { nodes: 0, entries: 0 };
    if (!fields(to, (n) => (n === GRAPH_NODE ? c.nodes++ : GRAPH_LISTS.has(n) && c.entries++))) counts = null;
    else counts = c;
    at = back;
  });
  return ok ? counts : null;
}

/** The model's `bytes`: base64 in JSON, or a safetensors body's `model/bytes` (U8), as wire/safetensors.ts reads it. */
export type OnnxFile = string | { readonly bytes: Uint8Array };

/** Reads `base64` (the `model.bytes` of a request) into an OnnxModel, checking the limits first. */
export function decodeOnnx(file: OnnxFile, limits: Limits): OnnxModel {
  const bytes = typeof file === 'string' ? Buffer.from(file, 'base64') : Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  if (bytes.length === 0) throw new MalformedError(MODEL_PATH, 'empty: expected the bytes of an .onnx file, base64');
  const counts = graphCounts(bytes);
  if (counts !== null && counts.nodes > limits.maxNodes) {
    throw overLimit(['model', 'graph', 'node'], `${counts.nodes} ONNX nodes`, limits.maxNodes, 'MAX_NODES');
  }
  if (counts !== null && counts.entries > ENTRIES_PER_NODE * limits.maxNodes) {
    throw overLimit(
      ['model', 'graph'],
      `${counts.entries} initializers, inputs, outputs and value_info entries (${ENTRIES_PER_NODE} per node allowed)`,
      ENTRIES_PER_NODE * limits.maxNodes,
      'MAX_NODES',
    );
  }
  let proto: ModelProtoObject;
  try {
    proto = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, enums: Number, defaults: false, arrays: true }) as ModelProtoObject;
  } catch (err) {
    throw new MalformedError(MODEL_PATH, `not an ONNX model (ModelProto): ${(err as Error).message}; is the file complete, and sent as base64?`);
  }
  const graph = proto.graph;
  if (graph === undefined || (graph.node?.length ?? 0) === 0) throw new SpecError(MODEL_PATH, 'the ONNX model has no graph (or an empty one): is it an .onnx file?');
  const opsets = proto.opset_import ?? [];
  const [main, second] = opsets.filter((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  // the ops' meaning depends on the opset: with two, which one the exporter meant is unknown
  if (second !== undefined) {
    throw new SpecError(['model', 'opset_import'], `the default domain ("" or "ai.onnx") is imported twice, with opsets ${main!.version ?? 0} and ${second.version ?? 0}: ONNX allows one opset per domain`);
  }
  const opset = main?.version ?? 0;
  if (opset < OPSET_MIN || opset > OPSET_MAX) {
    throw new SpecError(['model', 'opset_import'], `opset ${opset} of the default domain is outside the supported ${OPSET_MIN}–${OPSET_MAX}: export with opset_version between them (torch.onnx.export(..., opset_version=17))`);
  }
  if ((graph.output?.length ?? 0) === 0) throw new SpecError(['model', 'graph', 'output'], 'the ONNX graph declares no output');
  const nodes = graph.node!;
  if (nodes.length > limits.maxNodes) throw overLimit(['model', 'graph', 'node'], `${nodes.length} ONNX nodes`, limits.maxNodes, 'MAX_NODES');
  if ((graph.sparse_initializer?.length ?? 0) > 0) throw new SpecError(['model', 'graph', 'sparse_initializer'], 'sparse initializers are not supported: store them dense');

  const initializers = new Map<string, OnnxInitializer>();
  let elements = 0;
  for (const t of graph.initializer ?? []) {
    const path = tensorPath(t.name);
    if (initializers.has(t.name ?? '')) throw new SpecError(path, 'a second initializer of this name: each must have its own');
    const { shape, float, value } = tensorOf(t, path);
    elements += size(shape);
    if (elements > limits.maxElements) throw overLimit(path, `the model's initializers hold ${elements} elements`, limits.maxElements, 'MAX_ELEMENTS');
    initializers.set(t.name ?? '', { name: t.name ?? '', shape, float, value });
  }
  const named = nodes.map((n, index): OnnxNode => {
    const name = n.name || n.output?.[0] || `node${index}`;
    const attrs: Record<string, AttrValue> = {};
    const attrTypes: Record<string, string> = {};
    for (const a of n.attribute ?? []) {
      const path = ['model', 'graph', 'node', index, 'attribute', a.name];
      // ONNX forbids it, and which of the two a runtime reads is up to the runtime
      if (Object.hasOwn(attrTypes, a.name)) throw new SpecError(path, `node "${name}" (${n.op_type ?? ''}): attribute "${a.name}" is given twice; ONNX allows each attribute once per node`);
      attrTypes[a.name] = ATTRIBUTE_TYPES[a.type ?? 0] ?? `type ${a.type}`;
      const v = attrValue(a, path);
      if (v !== undefined) attrs[a.name] = v;
    }
    return { index, name, opType: n.op_type ?? '', domain: n.domain ?? '', inputs: n.input ?? [], outputs: n.output ?? [], attrs, attrTypes };
  });
  const inputs = (graph.input ?? [])
    .filter((i) => !initializers.has(i.name ?? ''))
    .map((i): OnnxInput => {
      const shape = i.type?.tensor_type?.shape;
      return { name: i.name ?? '', dims: shape === undefined ? null : (shape.dim ?? []).map((d) => d.dim_value ?? d.dim_param ?? null) };
    });
  return { opset, nodes: named, initializers, inputs, outputs: (graph.output ?? []).map((o) => o.name ?? '') };
}
