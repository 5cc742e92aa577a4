import type { DecodedGraphSpec, Limits } from '../../engine/api.js';
import type { Tensors } from '../../engine/spec.js';
import type { OnnxSpec } from '../spec.js';
import { SpecError } from '../../engine/errors.js';
import { Lru } from '../../engine/lru.js';
import { sameShape, type Shape, type Tensor } from '../../engine/tensor.js';
import { decodeOnnx, type OnnxFile, type OnnxModel } from './decode.js';
import { checkInputShapes, declaredShapes, importOnnx, type Imported } from './import.js';

// An `{"type": "onnx"}` model of a request: its file decoded once per spec object (a known model's spec
// is the same object on every request by reference), imported for each request's shapes and output.

const decoded = new WeakMap<OnnxSpec, OnnxModel>();

function modelOf(spec: OnnxSpec, limits: Limits): OnnxModel {
  let model = decoded.get(spec);
  if (model === undefined) decoded.set(spec, (model = decodeOnnx(spec.bytes as OnnxFile, limits)));
  return model;
}

/** Imports kept per model (a client sends the same shapes again and again), and the bytes of their constants. */
const IMPORTS_PER_MODEL = 16;
const IMPORT_BYTES_PER_MODEL = 64 * 1024 * 1024;
const imports = new WeakMap<OnnxSpec, Lru<string, Imported>>();

/**
 * The graph a request with these data inputs runs, and the file's param values; the same objects for
 * the same model, shapes, output and batchSize (the caller copies what it sends on). With `batchSize`
 * (/v1/train's minibatches, which run the graph imported here) the graph must be the same for a
 * minibatch as for the whole batch: not so when a node folds the batch dimension into a constant.
 */
export function importForRequest(spec: OnnxSpec, inputs: Tensors, output: string | undefined, limits: Limits, batchSize?: number): Imported {
  const model = modelOf(spec, limits);
  const shapes = new Map<string, Shape>(Object.entries(inputs).map(([name, t]) => [name, t.shape]));
  let cache = imports.get(spec);
  if (cache === undefined) imports.set(spec, (cache = new Lru(IMPORTS_PER_MODEL, IMPORT_BYTES_PER_MODEL)));
  const key = JSON.stringify([[...shapes], output, batchSize]);
  let imported = cache.get(key);
  if (imported === undefined) {
    checkInputShapes(model, shapes);
    imported = importWith(spec, model, shapes, limits, output);
    checkMinibatches(spec, model, imported, shapes, output, limits, batchSize);
    cache.set(key, imported, Object.values(imported.spec.constants).reduce((sum, t) => sum + t.data.byteLength, 0));
  }
  return imported;
}

function checkMinibatches(spec: OnnxSpec, model: OnnxModel, imported: Imported, shapes: Map<string, Shape>, output: string | undefined, limits: Limits, batchSize?: number): void {
  const n = shapes.values().next().value?.[0];
  if (batchSize === undefined || n === undefined || batchSize >= n) return;
  for (const b of new Set([batchSize, n % batchSize].filter((b) => b > 0))) {
    const minibatch = new Map([...shapes].map(([name, s]) => [name, [b, ...s.slice(1)]]));
    let other: Imported['spec'];
    try {
      checkInputShapes(model, minibatch);
      other = importWith(spec, model, minibatch, limits, output).spec;
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      throw new SpecError(['batchSize'], `the ONNX graph cannot take a minibatch of ${b} row${b === 1 ? '' : 's'} (${err.message}): the file fixes the batch size; leave batchSize out, or export with dynamic_axes on the batch`);
    }
    const k = firstDifference(imported.spec, other);
    if (k !== undefined) {
      throw new SpecError(['batchSize'], `node "${imported.spec.nodes[k]?.id ?? k}" of the ONNX graph is imported differently for a batch of ${b} than for the whole ${n} (it reads the batch dimension as a constant): leave batchSize out, or send each minibatch to /v1/gradients`);
    }
  }
}

/** The index of the first node of `a` that `b` imports differently (a node's constants included), if any. */
function firstDifference(a: Imported['spec'], b: Imported['spec']): number | undefined {
  const same = (x: Tensor | undefined, y: Tensor | undefined) =>
    x !== undefined && y !== undefined && sameShape(x.shape, y.shape) && x.data.every((v, i) => v === y.data[i]);
  for (let k = 0; k < Math.max(a.nodes.length, b.nodes.length); k++) {
    const [x, y] = [a.nodes[k], b.nodes[k]];
    if (x === undefined || y === undefined || JSON.stringify(x) !== JSON.stringify(y)) return k;
    const constant = (id: string | number) => typeof id === 'string' && Object.hasOwn(a.constants, id);
    if (x.inputs.some((id) => constant(id) && !same(a.constants[id as string], b.constants[id as string]))) return k;
  }
  return undefined;
}

/** The graph checked before any data (registration), with the file's declared input shapes. */
export function importForCheck(spec: OnnxSpec, limits: Limits): DecodedGraphSpec {
  const model = modelOf(spec, limits);
  return importWith(spec, model, declaredShapes(model), limits).spec;
}

/** The import of the file for these input shapes, with the request's options for it. */
const importWith = (spec: OnnxSpec, model: OnnxModel, shapes: ReadonlyMap<string, Shape>, limits: Limits, output?: string): Imported =>
  importOnnx(model, { shapes, output, batchnorm: spec.batchnorm, frozen: spec.frozen }, limits);
