import type { GraphNode, GraphParam, LossSpec, MlpSpec, Options, Tensors } from './spec.js';
import type { Tensor } from './tensor.js';

// What the engine takes and gives, with every tensor already decoded into a typed array of the
// request's dtype. The HTTP layer validates and decodes a body into a job on the event loop, sends
// it to a worker (transferring the buffers), and encodes the result.

/** A graph as the engine takes it: the request's (wire/spec.ts GraphSpec) with its constants decoded. */
export interface DecodedGraphSpec {
  type: 'graph';
  inputs: string[];
  params: Record<string, GraphParam>;
  constants: Tensors;
  nodes: GraphNode[];
  output: string;
}
export type DecodedModel = MlpSpec | DecodedGraphSpec;

export interface Limits {
  /** all tensor elements of one request: data, parameters, constants and every node's value */
  maxElements: number;
  /** graph nodes, after an MLP is expanded into one */
  maxNodes: number;
  /** estimated floating-point operations of the whole computation (engine/cost.ts); absent = no budget */
  maxFlops?: number;
}

export interface ModelJob {
  /**
   * Left out only by a sender that expects the thread to hold the compiled plan of `modelId` for this
   * job's shapes; without that plan the job fails with ModelNotSent and is sent again with it.
   */
  model?: DecodedModel;
  /** the model's id when the service knows it: a worker keeps the compiled graph under it (engine/plans.ts) */
  modelId?: string;
  /** given parameter values; omitted ones are initialized */
  params: Tensors;
  /** an MLP takes one tensor [batch, inputSize]; a graph a map by input name */
  inputs: Tensor | Tensors;
  targets?: Tensor;
  loss?: LossSpec;
  /** dL/d(output) instead of a loss */
  outputGrad?: Tensor;
  options: Options;
}

/** torch.optim state: a global step and per-parameter buffers under torch's names. */
export interface OptimizerState {
  step: number;
  state: Record<string, Record<string, Tensor | number>>;
}

export interface OptimizerJob {
  /** `{type, lr, ...}` as validated by the optimizer's schema */
  config: { type: string } & Record<string, unknown>;
  state?: OptimizerState;
}

export interface GradientsJob extends ModelJob {
  optimizer?: OptimizerJob;
  clipGradNorm?: number;
}

export interface Warning {
  code: 'vanishing_gradients' | 'exploding_gradients' | 'dead_units' | 'clipped' | 'non_finite' | 'initialized_params';
  message: string;
  params: Record<string, unknown>;
}

export interface Diagnostics {
  globalGradNorm: number;
  gradNorms: Record<string, number>;
  warnings: Warning[];
}

export interface Timing {
  forwardMs: number;
  backwardMs: number;
}

export interface GradientsResult {
  /** absent when `outputGrad` was given */
  loss?: number;
  /** one per parameter, before clipping and before the optimizer step */
  gradients: Tensors;
  /** after the optimizer step, or the initialized values when the service created them */
  params?: Tensors;
  optimizerState?: OptimizerState;
  outputs?: Tensor;
  inputGradients?: Tensors;
  intermediates?: Record<string, { value: Tensor; grad: Tensor | null }>;
  diagnostics?: Diagnostics;
  timing: Timing;
}

export interface ForwardResult {
  loss?: number;
  outputs: Tensor;
  /** every node's value by id (options.returnIntermediates) */
  intermediates?: Record<string, Tensor>;
  timing: Timing;
}

export type { GradcheckConfig, GradcheckResult } from './gradcheck.js';
export type { ExplainResult } from './explain.js';

export interface StepJob {
  params: Tensors;
  gradients: Tensors;
  optimizer: OptimizerJob;
  clipGradNorm?: number;
}

export interface StepResult {
  params: Tensors;
  optimizerState: OptimizerState;
  diagnostics?: Diagnostics;
}

export interface TrainConfig {
  steps: number;
  batchSize?: number;
  shuffleSeed?: number;
}

export interface TrainStep {
  step: number;
  loss: number;
  globalGradNorm: number;
}

export interface TrainResult {
  losses: number[];
  params: Tensors;
  optimizerState: OptimizerState;
  /** non_finite when the run diverged */
  warnings: Warning[];
}
