import { ZodError } from 'zod';
import type { DecodedGraphSpec, Limits } from '../../engine/api.js';
import { overLimit, SpecError, type Path } from '../../engine/errors.js';
import { OPS } from '../../engine/ops/index.js';
import type { Tensors } from '../../engine/spec.js';
import { OpValueError } from '../../engine/op.js';
import { formatShape, ShapeError, size, type Shape, type Tensor } from '../../engine/tensor.js';
import { INTEGER, type OnnxModel, type OnnxNode } from './decode.js';
import { ATTRIBUTES, type AttributeRule, CONSTANT_INPUTS, HANDLERS, MIN_INPUTS, SUPPORTED } from './ops.js';
import { findGelus } from './patterns.js';

// An ONNX graph as the engine's graph spec, for the data's shapes. Initializers read where a tensor
// is computed with become params under their names in the file, their values the defaults; the rest
// (shape vectors, BatchNormalization's running statistics, Constant nodes) are constants, and every
// node whose inputs are all constant is computed here, so Shape, Gather, Concat and friends on shapes
// fold away. Each ONNX node becomes one engine node named as the node in the file (a few become
// several: the last one carries the name, the others `name:1`, `name:2`, ...).

export type Value = { kind: 'const'; t: Tensor } | { kind: 'node'; id: string; shape: Shape | undefined };

export interface ImportOptions {
  /** the data's shapes by input name (or, for a model checked without data, the file's) */
  shapes: ReadonlyMap<string, Shape>;
  /** the graph output (or any value) the model's output is; default the graph's first output */
  output?: string;
  /** BatchNormalization with the file's running statistics, or with the batch's (torch's training mode) */
  batchnorm: 'eval' | 'train';
  /** float initializers held as constants, as torch's buffers or frozen params (requires_grad=False) */
  frozen?: readonly string[];
}

export interface Imported {
  spec: DecodedGraphSpec & { nodes: (DecodedGraphSpec['nodes'][number] & { path: Path })[] };
  /** every param's value in the file, by name */
  defaults: Tensors;
}

export const nodePath = (n: OnnxNode): Path => ['model', 'graph', 'node', n.index];

export class Importer {
  readonly values = new Map<string, Value>();
  readonly nodes: Imported['spec']['nodes'] = [];
  private readonly constants: Tensors = {};
  private readonly constIds = new Map<Tensor, string>();
  /** a constant's name in the file, which its engine constant takes */
  private readonly valueNames = new Map<Tensor, string>();
  /** params' file values, for the inputs that take a constant (fileValue) */
  private readonly fileValues = new Map<string, Value>();
  private readonly ids = new Set<string>();
  private node!: OnnxNode;
  private emitted = 0;

  constructor(
    readonly model: OnnxModel,
    readonly opts: ImportOptions,
    readonly limits: Limits,
  ) {}

  /** A SpecError naming the node being imported. */
  fail(message: string, path: Path = nodePath(this.node)): SpecError {
    return new SpecError(path, `node "${this.node.name}" (${this.node.opType}): ${message}`);
  }

  private unique(id: string): string {
    let u = id;
    for (let k = 2; this.ids.has(u); k++) u = `${id}:${k}`;
    this.ids.add(u);
    return u;
  }

  /** The engine's reference to a value: a node's id, a 0-d constant's number, or a constant's id. */
  private ref(v: Value): string | number {
    if (v.kind === 'node') return v.id;
    // a number literal must be finite: masked_fill's -inf stays a constant tensor
    if (v.t.shape.length === 0 && Number.isFinite(v.t.data[0])) return v.t.data[0]!;
    let id = this.constIds.get(v.t);
    if (id === undefined) {
      id = this.unique(this.valueNames.get(v.t) ?? `${this.node.name}:const`);
      this.constIds.set(v.t, id);
      this.constants[id] = v.t;
    }
    return id;
  }

  shapeOf(v: Value): Shape | undefined {
    return v.kind === 'const' ? v.t.shape : v.shape;
  }

  /** The input's shape, which this node cannot do without. */
  needShape(v: Value, what = 'its input'): Shape {
    const shape = this.shapeOf(v);
    if (shape === undefined) throw this.fail(`needs the shape of ${what}, which depends on data the model was checked without`);
    return shape;
  }

  private checkSize(shape: Shape): void {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw this.fail(`makes a constant of shape ${formatShape(shape)}: dimensions must be non-negative integers`);
    }
    if (size(shape) > this.limits.maxElements) {
      throw overLimit(nodePath(this.node), `node "${this.node.name}" makes a constant of ${size(shape)} elements`, this.limits.maxElements, 'MAX_ELEMENTS');
    }
  }

  /** A constant tensor, checked against the element limit before it is made; `integer` for an ONNX integer type. */
  constant(shape: Shape, fill: (data: Float64Array) => void, integer = false): Value {
    this.checkSize(shape);
    const t = { shape: [...shape], data: new Float64Array(size(shape)) };
    fill(t.data);
    if (integer) INTEGER.add(t);
    return { kind: 'const', t };
  }

  isInteger(v: Value): boolean {
    return v.kind === 'const' && INTEGER.has(v.t);
  }

  /** One engine op on `inputs`: computed here when they are all constant, else a node of the graph. */
  emit(op: string, inputs: Value[], attrs: Record<string, unknown> = {}): Value {
    const def = OPS.get(op)!;
    let parsed: unknown;
    try {
      parsed = def.parseAttrs(attrs);
    } catch (err) {
      const why = err instanceof ZodError ? err.issues.map((i) => `${i.path.join('.') || 'attrs'}: ${i.message}`).join('; ') : (err as Error).message;
      throw this.fail(`its attributes do not fit the ${op} op (${JSON.stringify(attrs)}): ${why}`);
    }
    const shapes = inputs.map((v) => this.shapeOf(v));
    let shape: Shape | undefined;
    if (shapes.every((s) => s !== undefined)) {
      try {
        shape = def.shape(shapes as Shape[], parsed);
      } catch (err) {
        if (!(err instanceof ShapeError)) throw err;
        throw this.fail(`${err.message} (input shapes ${shapes.map((s) => formatShape(s!)).join(', ')})`);
      }
    }
    if (inputs.every((v) => v.kind === 'const')) {
      this.checkSize(shape!);
      try {
        const t = def.forward(inputs.map((v) => (v as { t: Tensor }).t), parsed);
        // integers in, integers out, as ONNX types them: its Div of integers truncates
        if (inputs.every((v) => this.isInteger(v))) {
          if (op === 'div') t.data.forEach((x, i) => (t.data[i] = Math.trunc(x)));
          INTEGER.add(t);
        }
        return { kind: 'const', t };
      } catch (err) {
        // a constant's values the op refuses (an index out of range): what the run would have said
        if (!(err instanceof OpValueError)) throw err;
        throw this.fail(err.message);
      }
    }
    const id = this.unique(`${this.node.name}:${++this.emitted}`);
    const refs = inputs.map((v) => this.ref(v));
    this.nodes.push({ id, op, inputs: refs, ...(Object.keys(attrs).length > 0 ? { attrs } : {}), path: nodePath(this.node) });
    return { kind: 'node', id, shape };
  }

  /** Renames the node just emitted for `n` after `n` itself, so explain and intermediates show the file's names. */
  private nameLast(v: Value, n: OnnxNode): Value {
    const last = this.nodes.at(-1);
    if (v.kind !== 'node' || last === undefined || last.id !== v.id || !v.id.startsWith(`${n.name}:`)) return v;
    this.ids.delete(last.id);
    last.id = this.unique(n.name);
    return { ...v, id: last.id };
  }

  /** The node's attributes against its op's in ATTRIBUTES: each one the op has in this opset, of its type and values. */
  private checkAttributes(n: OnnxNode): void {
    const opset = this.model.opset;
    const all = Object.entries(Object.hasOwn(ATTRIBUTES, n.opType) ? ATTRIBUTES[n.opType]! : {});
    const rules = new Map(all.filter(([, r]) => r.opsets === undefined || (r.opsets[0] <= opset && opset <= r.opsets[1])));
    for (const [name, type] of Object.entries(n.attrTypes)) {
      const path = [...nodePath(n), 'attribute', name];
      const rule = rules.get(name);
      if (rule === undefined) {
        const opsets = all.find(([k]) => k === name)?.[1].opsets;
        if (opsets !== undefined) throw this.fail(`attribute "${name}" is not in ${n.opType} of opset ${opset}, only of opsets ${opsets[0]}–${opsets[1]}`, path);
        throw this.fail(`unknown attribute "${name}": ${n.opType} of opset ${opset} has ${rules.size > 0 ? `only ${[...rules.keys()].join(', ')}` : 'no attributes'}`, path);
      }
      if (type !== rule.type) throw this.fail(`attribute "${name}" is of type ${type}; ${n.opType} takes it as ${TYPE_WORDS[rule.type]} (${rule.type})`, path);
      const v = n.attrs[name] as number | string;
      if (rule.values !== undefined && !rule.values.includes(v)) throw this.fail(`attribute "${name}" is ${JSON.stringify(v)}; it must be ${oneOf(rule.values.map((x) => JSON.stringify(x)))}`, path);
      if (rule.axis === undefined) continue;
      // the input's rank, when known: with data the model was checked without, the request's import checks it
      const x = this.values.get(n.inputs[0] ?? '');
      const rank = x === undefined ? undefined : this.shapeOf(x)?.length;
      if (rank !== undefined) {
        const last = rule.axis === 'end' ? rank : rank - 1;
        if (!((v as number) >= -rank && (v as number) <= last)) throw this.fail(`attribute "${name}" is ${v}; for an input of rank ${rank} it must be from ${-rank} to ${last}`, path);
      }
    }
  }

  private input(name: string, fixed: boolean): Value | undefined {
    if (name === '') return undefined;
    const v = this.values.get(name);
    if (v === undefined) throw this.fail(`reads "${name}", which no node before it makes (are the nodes in topological order, as ONNX requires?)`);
    return fixed ? this.fileValue(v) : v;
  }

  /**
   * A param read where the op takes a constant (CONSTANT_INPUTS: statistics, shapes, indices), as the
   * file's value: an exporter merges initializers of equal values, so a fresh BatchNorm's weight (all
   * 1) may also be its running variance, and that use must pass no gradient.
   */
  private fileValue(v: Value): Value {
    // a param's node has the initializer's name as its id (an Identity passes the same value on)
    const init = v.kind === 'node' ? this.model.initializers.get(v.id) : undefined;
    if (init === undefined) return v;
    let c = this.fileValues.get(init.name);
    if (c === undefined) {
      const t = init.value();
      c = { kind: 'const', t: { shape: [...t.shape], data: t.data.slice() } };
      this.valueNames.set(c.t, init.name);
      this.fileValues.set(init.name, c);
    }
    return c;
  }

  run(): Imported {
    const { model, opts } = this;
    const params: DecodedGraphSpec['params'] = {};
    const defaults: Tensors = {};
    const trainable = trainableInitializers(model);
    for (const [k, name] of (opts.frozen ?? []).entries()) {
      if (!model.initializers.get(name)?.float) throw new SpecError(['model', 'frozen', k], `"${name}" is not a float initializer of the ONNX file`);
      trainable.delete(name);
    }
    for (const init of model.initializers.values()) {
      if (trainable.has(init.name)) {
        params[init.name] = { shape: init.shape };
        defaults[init.name] = init.value();
        this.ids.add(init.name);
        this.values.set(init.name, { kind: 'node', id: init.name, shape: init.shape });
      } else {
        const t = init.value();
        this.valueNames.set(t, init.name);
        this.values.set(init.name, { kind: 'const', t });
      }
    }
    for (const input of model.inputs) {
      this.ids.add(input.name);
      this.values.set(input.name, { kind: 'node', id: input.name, shape: opts.shapes.get(input.name) });
    }
    const { replaced, skipped } = findGelus(model);
    checkSupported(model, skipped);
    for (const n of model.nodes) {
      this.node = n;
      this.checkAttributes(n);
      if (skipped.has(n)) continue;
      this.emitted = 0;
      const needed = MIN_INPUTS[n.opType] ?? 1;
      if (n.inputs.slice(0, needed).filter((name) => name !== '').length < needed) throw this.fail(`needs at least ${needed} inputs, has ${n.inputs.filter((name) => name !== '').length}`);
      if (n.outputs.length === 0 || n.outputs[0] === '') throw this.fail('has no output');
      const gelu = replaced.get(n);
      const fixed = constantInputs(n);
      const out =
        gelu === undefined
          ? HANDLERS[n.opType]!(this, n, n.inputs.map((name, k) => this.input(name, fixed.includes(k))))
          : [this.emit('gelu', [this.input(gelu, false)!])];
      out.forEach((v, k) => {
        const name = n.outputs[k];
        if (!name) return;
        if (v.kind === 'const' && !this.valueNames.has(v.t)) this.valueNames.set(v.t, name);
        this.values.set(name, k === 0 ? this.nameLast(v, n) : v);
      });
    }
    const output = opts.output ?? model.outputs[0]!;
    const result = this.values.get(output);
    if (result === undefined || !model.outputs.concat([...this.values.keys()]).includes(output)) {
      throw new SpecError(['loss', 'output'], `the ONNX graph has no output "${output}" (its outputs: ${model.outputs.join(', ')})`);
    }
    if (result.kind !== 'node' || !this.nodes.some((d) => d.id === result.id)) {
      throw new SpecError(['loss', 'output'], `"${output}" is not computed by the graph (it is a constant, a param or an input)`);
    }
    return {
      spec: { type: 'graph', inputs: model.inputs.map((i) => i.name), params, constants: this.constants, nodes: this.nodes, output: result.id },
      defaults,
    };
  }
}

const TYPE_WORDS: Record<AttributeRule['type'], string> = {
  INT: 'an integer', FLOAT: 'a float', STRING: 'a string', TENSOR: 'a tensor', INTS: 'a list of integers', FLOATS: 'a list of floats', STRINGS: 'a list of strings', SPARSE_TENSOR: 'a sparse tensor',
};

/** "a, b or c" */
const oneOf = (xs: string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);

/** The positions of a node's inputs that its op reads as constants (shapes, indices, statistics). */
const constantInputs = (n: OnnxNode): number[] => (Object.hasOwn(CONSTANT_INPUTS, n.opType) ? CONSTANT_INPUTS[n.opType] : undefined) ?? [];

/** Float initializers that some node computes with (not read only as shapes, indices or statistics). */
function trainableInitializers(model: OnnxModel): Set<string> {
  const out = new Set<string>();
  for (const n of model.nodes) {
    const fixed = constantInputs(n);
    n.inputs.forEach((name, k) => {
      if (model.initializers.get(name)?.float && !fixed.includes(k)) out.add(name);
    });
  }
  return out;
}

/** Every node the importer has no rule for, in one error, with the ops it has. */
function checkSupported(model: OnnxModel, skipped: ReadonlySet<OnnxNode>): void {
  // own keys only: an op type such as "toString" is not Object.prototype's
  const bad = model.nodes.filter((n) => !skipped.has(n) && (!(n.domain === '' || n.domain === 'ai.onnx') || !Object.hasOwn(HANDLERS, n.opType)));
  if (bad.length === 0) return;
  const list = [...SUPPORTED].sort().join(', ');
  throw new SpecError(
    bad.map((n) => ({
      path: nodePath(n),
      message:
        n.opType === 'Erf'
          ? `node "${n.name}" (Erf, opset ${model.opset}) is supported only as part of GELU, x·½(1 + erf(x/√2)); supported ops: ${list}`
          : `node "${n.name}" (${n.domain ? `${n.domain}.` : ''}${n.opType}, opset ${model.opset}) is not supported; supported ops: ${list}`,
    })),
  );
}

/** The import of `model` for these options: the spec the engine compiles and the params' defaults. */
export function importOnnx(model: OnnxModel, opts: ImportOptions, limits: Limits): Imported {
  if (opts.batchnorm === 'train' && !model.nodes.some((n) => n.opType === 'BatchNormalization')) {
    throw new SpecError(
      ['model', 'batchnorm'],
      '"train" needs a BatchNormalization node, and the graph has none: torch.onnx.export in eval mode folds batch norm into ' +
        'the layer before it; export with training=torch.onnx.TrainingMode.PRESERVE (or TRAINING) to keep it',
    );
  }
  return new Importer(model, opts, limits).run();
}

/**
 * The shapes a model is checked with before any data: the file's, with 2 for each named (dynamic)
 * dimension. The import for a request uses the request's own shapes, checked against the file's fixed dims.
 */
export function declaredShapes(model: OnnxModel): Map<string, Shape> {
  return new Map(model.inputs.filter((i) => i.dims !== null).map((i) => [i.name, i.dims!.map((d) => (typeof d === 'number' && d > 0 ? d : 2))]));
}

/** The request's data against the file's declared inputs: every one given, fixed dims as declared. */
export function checkInputShapes(model: OnnxModel, shapes: ReadonlyMap<string, Shape>): void {
  const issues: { path: Path; message: string }[] = [];
  for (const input of model.inputs) {
    const shape = shapes.get(input.name);
    if (shape === undefined) {
      issues.push({ path: ['inputs', input.name], message: `missing: the ONNX graph declares input "${input.name}"` });
      continue;
    }
    if (input.dims === null) continue;
    const wrong = shape.length !== input.dims.length || input.dims.some((d, k) => typeof d === 'number' && d > 0 && shape[k] !== d);
    if (wrong) {
      const declared = `[${input.dims.map((d) => (typeof d === 'number' && d > 0 ? d : (d ?? '?'))).join(', ')}]`;
      issues.push({ path: ['inputs', input.name], message: `shape ${formatShape(shape)} does not fit the ONNX graph's ${declared} (named dims vary; fixed ones must match: export with dynamic_axes to vary them)` });
    }
  }
  if (issues.length > 0) throw new SpecError(issues);
}
