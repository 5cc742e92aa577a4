import type { DecodedGraphSpec, Limits } from '../../engine/api.js';
import type { OnnxSpec, Tensors } from '../../engine/spec.js';
import type { Shape } from '../../engine/tensor.js';
import { decodeOnnx, type OnnxModel } from './decode.js';
import { checkInputShapes, declaredShapes, importOnnx, type Imported } from './import.js';

// An `{"type": "onnx"}` model of a request: its file decoded once per spec object (a known model's spec
// is the same object on every request by reference), imported for each request's shapes and output.

const decoded = new WeakMap<OnnxSpec, OnnxModel>();

function modelOf(spec: OnnxSpec, limits: Limits): OnnxModel {
  let model = decoded.get(spec);
  if (model === undefined) decoded.set(spec, (model = decodeOnnx(spec.bytes, limits)));
  return model;
}

/** The graph a request with these data inputs runs, and the file's param values. */
export function importForRequest(spec: OnnxSpec, inputs: Tensors, output: string | undefined, limits: Limits): Imported {
  const model = modelOf(spec, limits);
  const shapes = new Map<string, Shape>(Object.entries(inputs).map(([name, t]) => [name, t.shape]));
  checkInputShapes(model, shapes);
  return importOnnx(model, { shapes, output, batchnorm: spec.batchnorm }, limits);
}

/** The graph checked before any data (registration), with the file's declared input shapes. */
export function importForCheck(spec: OnnxSpec, limits: Limits): DecodedGraphSpec {
  const model = modelOf(spec, limits);
  return importOnnx(model, { shapes: declaredShapes(model), batchnorm: spec.batchnorm }, limits).spec;
}
