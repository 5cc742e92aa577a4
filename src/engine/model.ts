import type { DecodedGraphSpec, Limits, ModelJob } from './api.js';
import { compile } from './compile.js';
import { ModelNotSent, overLimit, SpecError, type Path } from './errors.js';
import type { CompiledGraph, GraphDef, LeafDef, NodeDef } from './graph.js';
import { initialize, type InitSpec } from './init/index.js';
import { Issues } from './issues.js';
import { dropPlansStartingWith, findPlan, keepPlan, type Plan } from './plans.js';
import { expandMlp, mlpNodeCount, type MlpExpansion, type ParamDecl } from './mlp.js';
import type { AnyOp } from './op.js';
import type { LossSpec, MlpSpec, Tensors } from './spec.js';
import { cast, formatShape, isTensor, sameShape, tensor, type DType, type Tensor } from './tensor.js';

// A request's model, loss and data turned into one compiled graph with the values of its leaves.
// Ids starting with "#" cannot come from a request (the id schema forbids them), so the engine's own
// nodes never clash with a user's.

export const LOSS_ID = '#loss';
export const TARGETS_ID = '#targets';
export const LOSS_WEIGHT_ID = '#loss-weight';

const DEFAULT_GRAPH_INIT: InitSpec = { scheme: 'normal', mean: 0, std: 1, seed: 0 };

export interface BuiltModel {
  graph: CompiledGraph;
  /** values of the inputs, targets and params by slot, in the graph's dtype */
  leaves: Map<number, Tensor>;
  /** every parameter's current value, in the graph's dtype, by name (declaration order) */
  params: Tensors;
  /** the parameters the service created (not given in the request) */
  initialized: Tensors;
  /** the spec each of those was drawn with, by name */
  initializedWith: Record<string, InitSpec>;
  /** the request's data inputs by name (an MLP's one input is "inputs") */
  inputs: Tensors;
  output: number;
  /** the slot of the appended loss node */
  loss?: number;
  mlp?: MlpExpansion;
}

export interface BuildOptions {
  ops: ReadonlyMap<string, AnyOp>;
  /** overrides the request's dtype (gradcheck and explain work in float64) */
  dtype?: DType;
}

function own<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

interface Parts {
  inputs: LeafDef[];
  params: ParamDecl[];
  constants: (LeafDef & { value: Tensor })[];
  nodes: readonly NodeDef[];
  nodePath: (i: number) => Path;
  output: { id: string; path: Path };
  mlp?: MlpExpansion;
}

function mlpParts(spec: MlpSpec, job: ModelJob, limits: Limits): Parts {
  const count = mlpNodeCount(spec) + (job.loss ? 1 : 0);
  if (count > limits.maxNodes) throw overLimit(['model', 'layers'], `the MLP expands to ${count} graph nodes`, limits.maxNodes, 'MAX_NODES');
  const x = job.inputs;
  if (!isTensor(x)) throw new SpecError(['inputs'], 'an MLP takes one tensor [batch, inputSize], not a map');
  if (x.shape.length !== 2 || x.shape[1] !== spec.inputSize) {
    throw new SpecError(['inputs'], `must have shape [batch, ${spec.inputSize}] (inputSize), got ${formatShape(x.shape)}`);
  }
  const mlp = expandMlp(spec);
  return {
    inputs: [{ name: mlp.input, shape: x.shape, path: ['inputs'] }],
    params: mlp.params,
    constants: [],
    nodes: mlp.nodes,
    nodePath: () => ['model'],
    output: { id: mlp.output, path: ['model', 'layers'] },
    mlp,
  };
}

function graphParts(spec: DecodedGraphSpec, job: ModelJob, limits: Limits): Parts {
  const count = spec.nodes.length + (job.loss ? 1 : 0);
  if (count > limits.maxNodes) throw overLimit(['model', 'nodes'], `${count} graph nodes`, limits.maxNodes, 'MAX_NODES');
  const given = job.inputs;
  if (isTensor(given)) throw new SpecError(['inputs'], 'a graph takes a map of its inputs by name, {"x": tensor, ...}');
  const issues = new Issues();
  const inputs: LeafDef[] = [];
  for (const name of spec.inputs) {
    const t = own(given, name);
    if (t === undefined) issues.add(['inputs', name], `missing: the model declares input "${name}"`);
    else inputs.push({ name, shape: t.shape, path: ['model', 'inputs', spec.inputs.indexOf(name)] });
  }
  for (const name of Object.keys(given)) {
    if (!spec.inputs.includes(name)) issues.add(['inputs', name], `the model declares no input "${name}" (model.inputs: ${spec.inputs.join(', ') || 'none'})`);
  }
  issues.throwIfAny();
  return {
    inputs,
    params: Object.entries(spec.params).map(([name, p]) => ({
      name,
      shape: p.shape,
      path: ['model', 'params', name],
      init: p.init ?? DEFAULT_GRAPH_INIT,
      initPath: ['model', 'params', name, 'init'],
    })),
    constants: Object.entries(spec.constants).map(([name, value]) => ({ name, shape: value.shape, value, path: ['model', 'constants', name] })),
    nodes: spec.nodes,
    nodePath: (i) => ['model', 'nodes', i],
    output: { id: spec.output, path: ['model', 'output'] },
  };
}

/** The loss op's attrs from the loss spec: only what was given, so the op's schema judges the rest. */
function lossAttrs(loss: LossSpec): Record<string, unknown> {
  const attrs: Record<string, unknown> = { reduction: loss.reduction };
  if (loss.delta !== undefined) attrs.delta = loss.delta;
  if (loss.labelSmoothing !== undefined) attrs.labelSmoothing = loss.labelSmoothing;
  if (loss.ignoreIndex !== undefined) attrs.ignoreIndex = loss.ignoreIndex;
  return attrs;
}

/** A plan's parameters by name, made once for each plan's list. */
const byName = new WeakMap<readonly ParamDecl[], ReadonlyMap<string, ParamDecl>>();

function checkRequest(job: ModelJob, params: readonly ParamDecl[], ops: ReadonlyMap<string, AnyOp>): void {
  const issues = new Issues();
  let declared = byName.get(params);
  if (declared === undefined) byName.set(params, (declared = new Map(params.map((p) => [p.name, p]))));
  for (const [name, t] of Object.entries(job.params)) {
    const decl = declared.get(name);
    if (decl === undefined) {
      const names = params.map((p) => p.name);
      issues.add(['params', name], `the model has no parameter "${name}" (its parameters: ${names.join(', ') || 'none'})`);
    } else if (!sameShape(t.shape, decl.shape)) {
      issues.add(['params', name], `shape ${formatShape(t.shape)} does not match the parameter's ${formatShape(decl.shape)}`);
    }
  }
  if (job.loss && !job.targets) issues.add(['targets'], `missing: the ${job.loss.type} loss needs targets`);
  if (job.targets && !job.loss) issues.add(['loss'], 'missing: targets were given without a loss');
  if (job.loss && job.outputGrad) issues.add(['outputGrad'], 'give either a loss with targets or outputGrad, not both');
  if (job.loss && !ops.has(`${job.loss.type}_loss`)) issues.add(['loss', 'type'], `the ${job.loss.type} loss is not available`);
  if (job.loss?.weight && job.loss.type !== 'cross_entropy' && job.loss.type !== 'nll') {
    issues.add(['loss', 'weight'], `class weights go with the cross_entropy and nll losses, not ${job.loss.type}`);
  }
  issues.throwIfAny();
}

/**
 * What the plan compiled for a known model depends on besides the model: the data's names and shapes,
 * the loss and the dtype (the limits are the process's).
 */
function planKey(job: ModelJob, dtype: DType): string {
  const shapes = isTensor(job.inputs)
    ? `[${job.inputs.shape.join(',')}]`
    : Object.entries(job.inputs).map(([name, t]) => `${JSON.stringify(name)}[${t.shape.join(',')}]`).join(',');
  const loss = job.loss === undefined ? '' : `${JSON.stringify(job.loss)}[${job.targets?.shape.join(',')}]`;
  return `${job.modelId}|${dtype}|${shapes}|${loss}`;
}

/** Drops this thread's plans of a model, for every shape, loss and dtype (a model deleted: workers/pool.ts). */
export function forgetModelPlans(modelId: string): void {
  dropPlansStartingWith(`${modelId}|`);
}

/** The request's model (plus loss) compiled; the checks of the request against it on the way. */
function compileModel(job: ModelJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>, dtype: DType): Plan {
  const { model } = job;
  if (model === undefined) throw new ModelNotSent(job.modelId);
  const parts = model.type === 'mlp' ? mlpParts(model, job, limits) : graphParts(model, job, limits);
  checkRequest(job, parts.params, ops);
  const nodes = [...parts.nodes];
  const inputs = [...parts.inputs];
  const constants = [...parts.constants];
  if (job.loss && job.targets) {
    inputs.push({ name: TARGETS_ID, shape: job.targets.shape, path: ['targets'] });
    // class weights ride along as the loss op's third input, a constant (they take no gradient)
    const { weight } = job.loss;
    if (weight) constants.push({ name: LOSS_WEIGHT_ID, shape: [weight.length], path: ['loss', 'weight'], value: tensor([weight.length], weight) });
    nodes.push({
      id: LOSS_ID,
      op: `${job.loss.type}_loss`,
      inputs: weight ? [parts.output.id, TARGETS_ID, LOSS_WEIGHT_ID] : [parts.output.id, TARGETS_ID],
      attrs: lossAttrs(job.loss),
      path: ['loss'],
      inputPaths: [['loss'], ['targets'], ['loss', 'weight']],
      attrsPath: ['loss'],
    });
  }
  const def: GraphDef = { inputs, params: parts.params, constants, nodes, nodePath: parts.nodePath, output: parts.output };
  const graph = compile(def, { ops, dtype, limits });
  return { graph, inputNames: parts.inputs.map((l) => l.name), params: parts.params, output: parts.output.id, mlp: parts.mlp };
}

/**
 * Each job's plan, once found: a job is costed before it is computed (the pool's in-place check,
 * engine/index.ts costsAtMost), and the second look then costs nothing. Its request was checked
 * against the plan the first time; a plan evicted meanwhile still serves it.
 */
const planOfJob = new WeakMap<ModelJob, { plan: Plan; limits: Limits; dtype: DType }>();

/** The request's model (plus loss) compiled, or its plan kept from an earlier request of the same shapes. */
export function planOf(job: ModelJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>, dtype: DType = job.options.dtype): Plan {
  const known = planOfJob.get(job);
  if (known !== undefined && known.limits === limits && known.dtype === dtype) return known.plan;
  const plan = findOrCompile(job, limits, ops, dtype);
  planOfJob.set(job, { plan, limits, dtype });
  return plan;
}

function findOrCompile(job: ModelJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>, dtype: DType): Plan {
  const key = job.modelId === undefined ? undefined : planKey(job, dtype);
  let plan = key === undefined ? undefined : findPlan(key);
  if (plan === undefined) {
    plan = compileModel(job, limits, ops, dtype);
    if (key !== undefined) keepPlan(key, plan);
  } else {
    // the plan was compiled for data of these names and shapes, so only the params are left to check
    checkRequest(job, plan.params, ops);
  }
  return plan;
}

/** Validates and compiles the request's model (plus loss) and gathers its leaf values; inits missing params. */
export function buildModel(job: ModelJob, limits: Limits, { ops, dtype = job.options.dtype }: BuildOptions): BuiltModel {
  const plan = planOf(job, limits, ops, dtype);
  const { graph } = plan;
  const given: Tensors = plan.mlp ? { [plan.mlp.input]: job.inputs as Tensor } : (job.inputs as Tensors);

  const slot = (name: string) => graph.slotOf.get(name)!;
  const leaves = new Map<number, Tensor>();
  for (const name of plan.inputNames) leaves.set(slot(name), cast(given[name]!, dtype));
  if (job.targets) leaves.set(slot(TARGETS_ID), cast(job.targets, dtype));
  const params: [string, Tensor][] = [];
  const initialized: [string, Tensor][] = [];
  const initializedWith: Record<string, InitSpec> = {};
  for (const p of plan.params) {
    let value = own(job.params, p.name);
    if (value === undefined) {
      // drawn in the request's dtype, so a float64 recompilation sees the very values a float32 run uses
      value = initialize(p.init, p.shape, job.options.dtype, { fanIn: p.fanIn, fanOut: p.fanOut, stream: p.name, path: p.initPath });
      initialized.push([p.name, value]);
      initializedWith[p.name] = p.init;
    }
    value = cast(value, dtype);
    leaves.set(slot(p.name), value);
    params.push([p.name, value]);
  }
  const inputValues: [string, Tensor][] = plan.inputNames.map((name) => [name, leaves.get(slot(name))!]);
  return {
    graph,
    leaves,
    params: Object.fromEntries(params),
    initialized: Object.fromEntries(initialized),
    initializedWith,
    inputs: Object.fromEntries(inputValues),
    output: slot(plan.output),
    loss: job.loss ? slot(LOSS_ID) : undefined,
    mlp: plan.mlp,
  };
}
