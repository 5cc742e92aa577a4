import type { Diagnostics, ForwardResult, GradientsJob, GradientsResult, Limits, ModelJob, OptimizerJob, OptimizerState, StepJob, StepResult } from './api.js';
import { deadUnits, diagnose, type DeadUnits } from './diagnostics.js';
import { evaluate } from './evaluate.js';
import type { CompiledNode } from './graph.js';
import { BACKWARD_PASSES, SMALLER_BATCH, withinBudget } from './cost.js';
import { buildModel, type BuiltModel } from './model.js';
import type { AnyOp } from './op.js';
import { clipGradNorm, step as optimStep, type OptimizerConfig } from './optim/index.js';
import type { Tensors } from './spec.js';
import type { Tensor } from './tensor.js';
import { ownBuffers } from './transfer.js';

export interface ClipInfo {
  maxNorm: number;
  totalNorm: number;
  clipped: boolean;
}

/** Clip (when asked) then one optimizer step; the gradients given are not modified. */
export function applyOptimizer(
  optimizer: OptimizerJob,
  params: Tensors,
  gradients: Tensors,
  maxNorm?: number,
): { params: Tensors; state: OptimizerState; clip?: ClipInfo } {
  let grads = gradients;
  let clip: ClipInfo | undefined;
  if (maxNorm !== undefined) {
    const c = clipGradNorm(gradients, maxNorm);
    grads = c.grads;
    clip = { maxNorm, totalNorm: c.totalNorm, clipped: c.clipped };
  }
  const r = optimStep(optimizer.config as OptimizerConfig, params, grads, optimizer.state);
  return { ...r, clip };
}

/** Collects the dead ReLU units of every relu node as the forward pass computes them. */
function deadUnitObserver(m: BuiltModel, into: DeadUnits[]) {
  return (node: CompiledNode, value: Tensor) => {
    const d = deadUnits(node, value);
    if (d) into.push({ ...d, layer: m.mlp?.layerOf.get(node.id) });
  };
}

export function gradients(job: GradientsJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>): GradientsResult {
  const m = buildModel(job, limits, { ops });
  withinBudget(m.graph, limits, { what: 'a forward and a backward pass', passes: 1 + BACKWARD_PASSES, path: ['model'], lower: SMALLER_BATCH });
  const wantDiagnostics = job.options.diagnostics;
  const dead: DeadUnits[] = [];
  const ev = evaluate(m, {
    backward: true,
    outputGrad: job.outputGrad,
    inputGradients: job.options.inputGradients,
    intermediates: job.options.returnIntermediates,
    observe: wantDiagnostics ? deadUnitObserver(m, dead) : undefined,
  });
  const result: GradientsResult = { gradients: ev.gradients, timing: { forwardMs: ev.forwardMs, backwardMs: ev.backwardMs } };
  if (!job.outputGrad && ev.loss !== undefined) result.loss = ev.loss;
  if (Object.keys(m.initialized).length > 0) result.params = m.initialized;
  let clip: ClipInfo | undefined;
  if (job.optimizer) {
    const r = applyOptimizer(job.optimizer, m.params, ev.gradients, job.clipGradNorm);
    result.params = r.params;
    result.optimizerState = r.state;
    clip = r.clip;
  } else if (job.clipGradNorm !== undefined) {
    // without an optimizer nothing is updated, but the diagnostics still say whether clipping would act
    clip = applyClipOnly(ev.gradients, job.clipGradNorm);
  }
  if (job.options.returnOutputs) result.outputs = ev.output;
  if (ev.inputGradients) result.inputGradients = ev.inputGradients;
  if (ev.intermediates) result.intermediates = ev.intermediates;
  if (wantDiagnostics) {
    result.diagnostics = diagnose({
      gradients: ev.gradients,
      loss: ev.loss,
      layerWeights: m.mlp?.weights,
      dead,
      clip,
      initialized: m.initializedWith,
    });
  }
  return ownBuffers(result);
}

function applyClipOnly(gradients: Tensors, maxNorm: number): ClipInfo {
  const c = clipGradNorm(gradients, maxNorm);
  return { maxNorm, totalNorm: c.totalNorm, clipped: c.clipped };
}

export function forward(job: ModelJob, limits: Limits, ops: ReadonlyMap<string, AnyOp>): ForwardResult {
  const m = buildModel(job, limits, { ops });
  withinBudget(m.graph, limits, { what: 'a forward pass', passes: 1, path: ['model'], lower: SMALLER_BATCH });
  const ev = evaluate(m, { backward: false, intermediates: job.options.returnIntermediates });
  const result: ForwardResult = { outputs: ev.output, timing: { forwardMs: ev.forwardMs, backwardMs: 0 } };
  if (ev.loss !== undefined) result.loss = ev.loss;
  if (ev.intermediates) result.intermediates = Object.fromEntries(Object.entries(ev.intermediates).map(([id, { value }]) => [id, value]));
  return ownBuffers(result);
}

export function step(job: StepJob): StepResult {
  const r = applyOptimizer(job.optimizer, job.params, job.gradients, job.clipGradNorm);
  const diagnostics: Diagnostics = diagnose({ gradients: job.gradients, clip: r.clip });
  return ownBuffers({ params: r.params, optimizerState: r.state, diagnostics });
}
