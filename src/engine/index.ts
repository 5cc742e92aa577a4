import type {
  ForwardResult,
  GradientsJob,
  GradientsResult,
  Limits,
  ModelJob,
  StepJob,
  StepResult,
  TrainConfig,
  TrainResult,
  TrainStep,
} from './api.js';
import { recycling } from './buffers.js';
import { BACKWARD_PASSES, forwardCost, NODE_FLOPS } from './cost.js';
import { explain as explainWith, type ExplainResult } from './explain.js';
import { gradcheck as gradcheckWith, type GradcheckConfig, type GradcheckResult } from './gradcheck.js';
import { forward as forwardWith, gradients as gradientsWith, step as stepWith } from './gradients.js';
import { mlpNodeCount } from './mlp.js';
import { planOf } from './model.js';
import { isTensor } from './tensor.js';
import { OPS } from './ops/index.js';
import { train as trainWith } from './train.js';

// The engine's entry points, as the workers call them: pure functions of a decoded job, with the op
// registry bound. Errors are SpecError (422) or LimitError (413); anything else is a bug.

export { Cancelled, cancellable } from './cancel.js';
export { ExplainResultSchema, EXPLAIN_LIMITS, type ExplainResult } from './explain.js';
export { GradcheckConfigSchema, GradcheckResultSchema, type GradcheckConfig, type GradcheckResult } from './gradcheck.js';
export { OPS, ALL_OPS } from './ops/index.js';

/** Forward pass, backpropagation and optionally one optimizer step. */
export function gradients(job: GradientsJob, limits: Limits): GradientsResult {
  return recycling(() => gradientsWith(job, limits, OPS));
}

/**
 * Whether the job's forward and backward passes are estimated (engine/cost.ts) at most `maxFlops`,
 * each value of the graph counted once more in each pass (what initializing, copying or updating it
 * costs: a parameter no node reads is still initialized and stepped). The model is compiled for it (and
 * its plan kept, when plans are) only if its node count alone leaves room, so a large model is turned
 * down without compiling it. A request error (SpecError, LimitError) is thrown as gradients() would.
 */
export function costsAtMost(job: ModelJob, limits: Limits, maxFlops: number): boolean {
  const { model } = job;
  if (model === undefined) return false;
  const nodes = (model.type === 'mlp' ? mlpNodeCount(model) : model.nodes.length) + (job.loss ? 1 : 0);
  const passes = 1 + BACKWARD_PASSES;
  if (nodes * NODE_FLOPS * passes > maxFlops) return false;
  // the job's own tensors are among the graph's values
  if (givenElements(job) * passes > maxFlops) return false;
  const { graph } = planOf(job, limits, OPS);
  return (forwardCost(graph).flops + graph.elements) * passes <= maxFlops;
}

function givenElements(job: ModelJob): number {
  let n = (job.targets?.data.length ?? 0) + (job.outputGrad?.data.length ?? 0);
  for (const t of Object.values(job.params)) n += t.data.length;
  for (const t of isTensor(job.inputs) ? [job.inputs] : Object.values(job.inputs)) n += t.data.length;
  return n;
}

/** Forward pass only: the loss (when there is one) and the output. */
export function forward(job: ModelJob, limits: Limits): ForwardResult {
  return recycling(() => forwardWith(job, limits, OPS));
}

/** Clipping (optional) and one optimizer step on given parameters and gradients. */
export function step(job: StepJob): StepResult {
  return stepWith(job);
}

/** `cfg.steps` optimizer steps over minibatches; `onStep` sees each step as it finishes. */
export function train(job: GradientsJob, cfg: TrainConfig, limits: Limits, onStep?: (s: TrainStep) => void): TrainResult {
  return trainWith(job, cfg, limits, OPS, onStep);
}

/** Backpropagation against central finite differences, in float64. */
export function gradcheck(job: ModelJob, cfg: GradcheckConfig, limits: Limits): GradcheckResult {
  return gradcheckWith(job, cfg, limits, OPS);
}

/** The chain-rule bookkeeping of a small graph. */
export function explain(job: ModelJob, limits: Limits): ExplainResult {
  return explainWith(job, limits, OPS);
}
