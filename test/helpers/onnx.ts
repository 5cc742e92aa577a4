import protobuf from 'protobufjs';
import schema from '../../src/wire/onnx/onnx.proto.json' with { type: 'json' };
import { ATTRIBUTES } from '../../src/wire/onnx/ops.js';

// Small ONNX files written by the tests themselves (protobufjs with the service's schema): the
// graphs torch does not export, broken ones, and ones over the limits.

const ModelProto = protobuf.Root.fromJSON(schema).lookupType('onnx.ModelProto');

export interface TestNode {
  name: string;
  op: string;
  inputs: string[];
  outputs?: string[];
  attrs?: Record<string, number | number[] | string>;
  domain?: string;
}

export interface TestGraph {
  nodes: TestNode[];
  /** float initializers: name → [dims, values] */
  initializers?: Record<string, [number[], number[]]>;
  /** graph inputs: name → dims (a string for a named dimension) */
  inputs: Record<string, (number | string)[]>;
  outputs: string[];
  opset?: number;
}

/** An attribute with the type ONNX gives it in the op (a float written 2 is still FLOAT), or for a name the op lacks, its value's. */
function attr(op: string, name: string, v: number | number[] | string) {
  const guess = typeof v === 'string' ? 'STRING' : Array.isArray(v) ? (v.every(Number.isInteger) ? 'INTS' : 'FLOATS') : Number.isInteger(v) ? 'INT' : 'FLOAT';
  const type = (Object.hasOwn(ATTRIBUTES, op) && Object.hasOwn(ATTRIBUTES[op]!, name) ? ATTRIBUTES[op]![name]!.type : undefined) ?? guess;
  if (type === 'STRING') return { name, type: 3, s: Buffer.from(String(v)) };
  if (type === 'INTS' || type === 'FLOATS') return type === 'INTS' ? { name, type: 7, ints: v } : { name, type: 6, floats: v };
  return type === 'INT' ? { name, type: 2, i: v } : { name, type: 1, f: v };
}

/** The file's ModelProto as a plain object, to be altered before `encodeOnnx`. */
export function onnxObject(g: TestGraph) {
  const info = (name: string, dims: (number | string)[] | undefined) => ({
    name,
    type: { tensor_type: { elem_type: 1, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } : {}) } },
  });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: g.opset ?? 17 }],
    graph: {
      name: 'test',
      node: g.nodes.map((n) => ({
        name: n.name,
        op_type: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs ?? [n.name],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(n.op, k, v)),
      })),
      initializer: Object.entries(g.initializers ?? {}).map(([name, [dims, values]]) => ({ name, dims, data_type: 1, float_data: values })),
      input: Object.entries(g.inputs).map(([name, dims]) => info(name, dims)),
      output: g.outputs.map((name) => info(name, undefined)),
    },
  };
}

export const encodeOnnx = (obj: object): string => Buffer.from(ModelProto.encode(ModelProto.fromObject(obj)).finish()).toString('base64');

export const onnxFile = (g: TestGraph): string => encodeOnnx(onnxObject(g));
