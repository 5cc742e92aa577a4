import type { GradientsJob, Limits, OptimizerState, TrainConfig, TrainResult, TrainStep, Warning } from './api.js';
import { SpecError } from './errors.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { applyOptimizer } from './gradients.js';
import { seededRng } from './init/index.js';
import { BACKWARD_PASSES, withinBudget } from './cost.js';
import { buildModel, type BuiltModel } from './model.js';
import type { AnyOp } from './op.js';
import type { Tensors } from './spec.js';
import { allFinite, allocData, dtypeOf, formatShape, isTensor, size, type Tensor } from './tensor.js';
import { ownBuffers } from './transfer.js';

// A training loop as one would write it with torch: per step a minibatch, forward, backward,
// optional clipping, one optimizer step. The parameters and optimizer state carry over between steps.

/** The rows `rows` of a tensor [n, ...], in that order. */
function gatherRows(t: Tensor, rows: Int32Array): Tensor {
  const width = size(t.shape.slice(1));
  const data = allocData(rows.length * width, dtypeOf(t));
  for (let r = 0; r < rows.length; r++) data.set(t.data.subarray(rows[r]! * width, (rows[r]! + 1) * width), r * width);
  return { shape: [rows.length, ...t.shape.slice(1)], data };
}

/**
 * Minibatches over the leading axis shared by every input and the targets. Without `shuffleSeed`
 * the rows are taken in order; with it each epoch draws its own permutation from the seed, so a
 * run is reproducible. The last batch of an epoch may be short (torch's DataLoader, drop_last=False).
 */
function batcher(job: GradientsJob, cfg: TrainConfig): (step: number) => { inputs: Tensor | Tensors; targets?: Tensor; rows?: Int32Array } {
  const whole = { inputs: job.inputs, targets: job.targets };
  const named: [string | undefined, Tensor][] = isTensor(job.inputs) ? [[undefined, job.inputs]] : Object.entries(job.inputs);
  if (job.targets) named.push(['#targets', job.targets]);
  const n = named[0]?.[1].shape[0];
  if (cfg.batchSize === undefined || n === undefined || cfg.batchSize >= n) return () => whole;
  for (const [name, t] of named) {
    if (t.shape[0] !== n) {
      const path = name === undefined ? ['inputs'] : name === '#targets' ? ['targets'] : ['inputs', name];
      throw new SpecError(path, `with batchSize, every input and the targets must share the leading (batch) dimension ${n}; got ${formatShape(t.shape)}`);
    }
  }
  const bs = cfg.batchSize;
  const perEpoch = Math.ceil(n / bs);
  let epoch = -1;
  let order = new Int32Array(0);
  return (step) => {
    const e = Math.floor(step / perEpoch);
    if (e !== epoch) {
      epoch = e;
      order = Int32Array.from({ length: n }, (_, i) => i);
      if (cfg.shuffleSeed !== undefined) {
        const rng = seededRng(cfg.shuffleSeed, `epoch:${e}`);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(rng.nextDouble() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
      }
    }
    const b = step % perEpoch;
    const rows = order.subarray(b * bs, Math.min(n, (b + 1) * bs));
    const inputs = isTensor(job.inputs)
      ? gatherRows(job.inputs, rows)
      : Object.fromEntries(Object.entries(job.inputs).map(([k, t]) => [k, gatherRows(t, rows)]));
    return { inputs, targets: job.targets && gatherRows(job.targets, rows), rows };
  };
}

/**
 * A problem found in a minibatch names positions within it (`indices[1]`): said with the rows of the
 * data the minibatch holds, a client can find the element it sent.
 */
function inMinibatch(err: unknown, step: number, rows: Int32Array | undefined): unknown {
  if (rows === undefined || !(err instanceof SpecError) || err.constructor !== SpecError) return err;
  const shown = Array.from(rows.subarray(0, 10)).join(', ');
  const where = `(in the minibatch of step ${step}, whose rows are the data's rows ${shown}${rows.length > 10 ? `, … (${rows.length})` : ''}, in that order)`;
  return new SpecError(err.issues.map((i) => ({ path: i.path, message: `${i.message} ${where}` })));
}

/** A run whose loss or parameters stopped being finite: from which step, and what to change. */
function divergence(losses: readonly number[], params: Tensors): Warning[] {
  const step = losses.findIndex((l) => !Number.isFinite(l)) + 1;
  const bad = Object.keys(params).filter((name) => !allFinite(params[name]!));
  if (step === 0 && bad.length === 0) return [];
  const what = [
    step > 0 ? `the loss first became ${losses[step - 1]} at step ${step} of ${losses.length}` : '',
    bad.length > 0 ? `after the last step ${bad.join(', ')} hold NaN or ±Inf` : '',
  ].filter(Boolean);
  return [
    {
      code: 'non_finite',
      message: `training diverged: ${what.join('; ')}. Lower the learning rate, or clip the gradients (clipGradNorm)`,
      params: { ...(step > 0 ? { step } : {}), ...(bad.length > 0 ? { params: bad } : {}) },
    },
  ];
}

export function train(
  job: GradientsJob,
  cfg: TrainConfig,
  limits: Limits,
  ops: ReadonlyMap<string, AnyOp>,
  onStep?: (s: TrainStep) => void,
): TrainResult {
  const optimizer = job.optimizer;
  if (!optimizer) throw new SpecError(['optimizer'], 'missing: training needs an optimizer');
  if (job.outputGrad) throw new SpecError(['outputGrad'], 'training minimizes a loss: give loss and targets (or a scalar output), not outputGrad');
  const batch = batcher(job, cfg);
  let params = job.params;
  let state: OptimizerState | undefined = optimizer.state;
  const losses: number[] = [];
  const options = { ...job.options, returnIntermediates: false, inputGradients: false, diagnostics: false };
  for (let s = 0; s < cfg.steps; s++) {
    const { rows, ...data } = batch(s);
    let m: BuiltModel;
    let ev: Evaluation;
    try {
      m = buildModel({ ...job, ...data, params, options }, limits, { ops });
      // every step's batch has the first one's size or less
      if (s === 0) {
        withinBudget(m.graph, limits, {
          what: `${cfg.steps} steps of a forward and a backward pass`,
          passes: cfg.steps * (1 + BACKWARD_PASSES),
          path: ['steps'],
          lower: 'train in fewer steps per request, or on smaller batches (batchSize)',
        });
      }
      ev = evaluate(m, { backward: true });
    } catch (err) {
      throw inMinibatch(err, s + 1, rows);
    }
    const r = applyOptimizer({ config: optimizer.config, state }, m.params, ev.gradients, job.clipGradNorm);
    params = r.params;
    state = r.state;
    const loss = ev.loss!;
    losses.push(loss);
    let ss = 0;
    for (const g of Object.values(ev.gradients)) for (let i = 0; i < g.data.length; i++) ss += g.data[i]! * g.data[i]!;
    onStep?.({ step: s + 1, loss, globalGradNorm: Math.sqrt(ss) });
  }
  if (cfg.steps === 0) {
    // nothing changes, but the caller still gets every parameter (initialized if need be)
    const m = buildModel({ ...job, params, options }, limits, { ops });
    return ownBuffers({ losses, params: m.params, optimizerState: state ?? { step: 0, state: {} }, warnings: [] });
  }
  return ownBuffers({ losses, params, optimizerState: state!, warnings: divergence(losses, params) });
}
