import type { DecodedModel, Limits, ModelJob, OptimizerJob, OptimizerState } from '../engine/api.js';
import { overLimit, SpecError, type Path } from '../engine/errors.js';
import type { LossSpec, Tensors } from '../engine/spec.js';
import type { ModelSpec, Options } from './spec.js';
import { cast, clone, type DType, type Tensor } from '../engine/tensor.js';
import { importForRequest } from './onnx/model.js';
import { BinaryTensor } from './safetensors.js';
import { decodeTensor, wireElements } from './tensor.js';

// Request bodies (validated by zod, tensors still in wire form) into engine jobs with typed arrays.
// This runs on the event loop, so it only does what is linear in the body: it counts every tensor's
// elements against the limit *before* allocating any, then decodes each one once.

type Wire = unknown;
type WireMap = Record<string, Wire>;

export interface ModelBody {
  model: ModelSpec;
  params?: WireMap;
  /** absent for a graph without inputs (decodeModelRequest) */
  inputs?: Wire;
  targets?: Wire;
  loss?: LossSpec;
  outputGrad?: Wire;
  options: Options;
  /** /v1/train's minibatch size: an ONNX model's import must not depend on it */
  batchSize?: number;
}

export interface OptimizerBody {
  type: string;
  state?: { step: number; state: Record<string, WireMap> };
  [k: string]: unknown;
}

/** A plain {name: tensor} map, as opposed to a tensor written as {shape, data} or {shape, dtype, base64}. */
function isTensorMap(v: Wire): v is WireMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof BinaryTensor) return false;
  return !('shape' in v && ('data' in v || 'base64' in v));
}

/** Every wire tensor of a request with its path, in one list, so the limit can be checked first. */
export class TensorPlan {
  private readonly items: { wire: Wire; path: Path }[] = [];

  add(wire: Wire, path: Path): void {
    // a safetensors tensor is named as the client named it: params/layers.0.weight
    this.items.push({ wire, path: wire instanceof BinaryTensor ? [wire.name] : path });
  }

  addMap(map: WireMap | undefined, path: Path): void {
    if (map === undefined) return;
    for (const key of Object.keys(map)) this.add(map[key], [...path, key]);
  }

  /** Counts first (no allocation), then decodes every tensor into `dtype`. */
  decode(dtype: DType, limits: Limits): Map<Wire, Tensor> {
    let total = 0;
    for (const { wire, path } of this.items) {
      total += wireElements(wire, path, limits.maxElements);
      if (total > limits.maxElements) {
        throw overLimit(path, `the request's tensors hold ${total} elements`, limits.maxElements, 'MAX_ELEMENTS');
      }
    }
    const out = new Map<Wire, Tensor>();
    for (const { wire, path } of this.items) {
      // keyed by the wire value itself: equal number literals decode equally, so once is enough
      if (out.has(wire)) continue;
      out.set(wire, decodeTensor(wire, dtype, path, limits.maxElements));
    }
    return out;
  }
}

/** Decoded tensors must not share buffers (each is transferred on its own): a repeat gets a copy. */
function take(decoded: Map<Wire, Tensor>, wire: Wire, used: Set<Tensor>): Tensor {
  const t = decoded.get(wire)!;
  if (!used.has(t)) {
    used.add(t);
    return t;
  }
  return { shape: [...t.shape], data: t.data.slice() };
}

function takeMap(decoded: Map<Wire, Tensor>, map: WireMap | undefined, used: Set<Tensor>): Tensors {
  const out: [string, Tensor][] = [];
  for (const key of Object.keys(map ?? {})) out.push([key, take(decoded, map![key], used)]);
  return Object.fromEntries(out);
}

/**
 * The node count of a raw body (graph nodes, or MLP layers: each expands to at least one node),
 * checked before the schema walks every node: 300,000 of them cost the validator about a second of
 * the event loop, counting them costs nothing.
 */
export function checkModelSize(body: unknown, limits: Limits): void {
  const model: unknown = body !== null && typeof body === 'object' ? (body as { model?: unknown }).model : undefined;
  if (model === null || typeof model !== 'object') return;
  for (const key of ['nodes', 'layers'] as const) {
    const list = (model as Record<string, unknown>)[key];
    if (Array.isArray(list) && list.length > limits.maxNodes) {
      throw overLimit(['model', key], `${list.length} ${key}`, limits.maxNodes, 'MAX_NODES');
    }
  }
}

function planModel(body: ModelBody, limits: Limits, plan: TensorPlan): void {
  const { model } = body;
  if (body.loss?.output !== undefined && model.type !== 'onnx') {
    throw new SpecError(['loss', 'output'], `names an output of an ONNX graph; a${model.type === 'mlp' ? 'n MLP has one output' : ' graph\'s output is model.output'}`);
  }
  if (model.type !== 'mlp') {
    if (model.type === 'graph' && model.nodes.length > limits.maxNodes) {
      throw overLimit(['model', 'nodes'], `${model.nodes.length} nodes`, limits.maxNodes, 'MAX_NODES');
    }
    if (model.type === 'graph') plan.addMap(model.constants, ['model', 'constants']);
    if (!isTensorMap(body.inputs)) {
      throw new SpecError(['inputs'], model.type === 'graph' ? 'a graph takes a map {name: tensor} over model.inputs' : 'an ONNX model takes a map {name: tensor} over the graph inputs of the file, by their names there');
    }
    plan.addMap(body.inputs, ['inputs']);
  } else {
    if (isTensorMap(body.inputs)) throw new SpecError(['inputs'], 'an MLP takes one tensor [batch, inputSize], not a map');
    plan.add(body.inputs, ['inputs']);
  }
  plan.addMap(body.params, ['params']);
  if (body.targets !== undefined) plan.add(body.targets, ['targets']);
  if (body.outputGrad !== undefined) plan.add(body.outputGrad, ['outputGrad']);
}

function planOptimizer(opt: OptimizerBody | undefined, plan: TensorPlan): void {
  const state = opt?.state?.state;
  if (state === undefined) return;
  for (const name of Object.keys(state)) plan.addMap(state[name], ['optimizer', 'state', 'state', name]);
}

/** A tensor of the import in the request's dtype, on a buffer of its own (the job's buffers are moved to a worker). */
const own = (t: Tensor, dtype: DType): Tensor => {
  const c = cast(t, dtype);
  return c === t ? clone(t) : c;
};

/**
 * An ONNX model as the graph it is for this request's inputs (wire/onnx/), with the file's values for
 * the params the request does not give.
 */
function onnxParts(body: ModelBody & { model: { type: 'onnx' } }, inputs: Tensors, params: Tensors, limits: Limits) {
  const { spec, defaults } = importForRequest(body.model, inputs, body.loss?.output, limits, body.batchSize);
  const dtype = body.options.dtype;
  const constants = Object.fromEntries(Object.entries(spec.constants).map(([k, t]) => [k, own(t, dtype)]));
  const missing = Object.entries(defaults).filter(([name]) => !Object.hasOwn(params, name));
  return { model: { ...spec, constants }, params: { ...Object.fromEntries(missing.map(([k, t]) => [k, own(t, dtype)])), ...params } };
}

function buildModelJob(body: ModelBody, decoded: Map<Wire, Tensor>, used: Set<Tensor>, limits: Limits): ModelJob {
  const { model } = body;
  const inputs = model.type === 'mlp' ? take(decoded, body.inputs, used) : takeMap(decoded, body.inputs as WireMap, used);
  let decodedModel: DecodedModel;
  let params = takeMap(decoded, body.params, used);
  if (model.type === 'onnx') ({ model: decodedModel, params } = onnxParts({ ...body, model }, inputs as Tensors, params, limits));
  else decodedModel = model.type === 'graph' ? { ...model, constants: takeMap(decoded, model.constants, used) } : model;
  return {
    model: decodedModel,
    params,
    inputs,
    ...(body.targets === undefined ? {} : { targets: take(decoded, body.targets, used) }),
    ...(body.loss === undefined ? {} : { loss: body.loss }),
    ...(body.outputGrad === undefined ? {} : { outputGrad: take(decoded, body.outputGrad, used) }),
    options: body.options,
  };
}

function buildOptimizer(opt: OptimizerBody, decoded: Map<Wire, Tensor>, used: Set<Tensor>): OptimizerJob {
  const { state, ...config } = opt;
  if (state === undefined) return { config };
  const perParam: OptimizerState['state'] = Object.fromEntries(
    Object.keys(state.state).map((name) => [name, takeMap(decoded, state.state[name], used)]),
  );
  return { config, state: { step: state.step, state: perParam } };
}

/** A model request (forward, gradients, gradcheck, explain, train) with an optional optimizer. */
export function decodeModelRequest(
  body: ModelBody & { optimizer?: OptimizerBody; clipGradNorm?: number },
  limits: Limits,
): ModelJob & { optimizer?: OptimizerJob; clipGradNorm?: number } {
  // a graph of its parameters alone (a function to minimize) takes no inputs
  if (body.inputs === undefined) {
    if (body.model.type === 'mlp') throw new SpecError(['inputs'], 'missing: the MLP\'s batch, one tensor [batch, inputSize]');
    body = { ...body, inputs: {} };
  }
  const plan = new TensorPlan();
  planModel(body, limits, plan);
  planOptimizer(body.optimizer, plan);
  const decoded = plan.decode(body.options.dtype, limits);
  const used = new Set<Tensor>();
  const job = buildModelJob(body, decoded, used, limits);
  return {
    ...job,
    ...(body.optimizer === undefined ? {} : { optimizer: buildOptimizer(body.optimizer, decoded, used) }),
    ...(body.clipGradNorm === undefined ? {} : { clipGradNorm: body.clipGradNorm }),
  };
}

export interface StepBody {
  params: WireMap;
  gradients: WireMap;
  optimizer: OptimizerBody;
  clipGradNorm?: number;
  options: { dtype: DType };
}

export function decodeStepRequest(body: StepBody, limits: Limits) {
  const plan = new TensorPlan();
  plan.addMap(body.params, ['params']);
  plan.addMap(body.gradients, ['gradients']);
  planOptimizer(body.optimizer, plan);
  const decoded = plan.decode(body.options.dtype, limits);
  const used = new Set<Tensor>();
  return {
    params: takeMap(decoded, body.params, used),
    gradients: takeMap(decoded, body.gradients, used),
    optimizer: buildOptimizer(body.optimizer, decoded, used),
    ...(body.clipGradNorm === undefined ? {} : { clipGradNorm: body.clipGradNorm }),
  };
}
