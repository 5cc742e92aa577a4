import type { Diagnostics, Warning } from './api.js';
import type { CompiledNode } from './graph.js';
import type { InitSpec } from './init/index.js';
import type { Tensors } from './spec.js';
import { allFinite, sumSquares, type Tensor } from './tensor.js';

// Gradient norms and the warnings of docs/api.md "Diagnostics". The thresholds are heuristics, not theorems: they flag
// what usually means a training run is in trouble, and are named here so they are easy to find.

/** `vanishing_gradients` when the first layer's weight-gradient norm is below this fraction of the last layer's */
export const VANISHING_LAYER_RATIO = 1e-4;
/** `vanishing_gradients` when the global gradient norm is below this (and the model has parameters) */
export const VANISHING_GLOBAL_NORM = 1e-7;
/** `exploding_gradients` when the global gradient norm is above this */
export const EXPLODING_GLOBAL_NORM = 1e3;
/** `exploding_gradients` when the first layer's weight-gradient norm is above this multiple of the last layer's */
export const EXPLODING_LAYER_RATIO = 1e4;
/** a unit is only called dead when it was 0 for at least this many rows (one row is plain sparsity) */
export const DEAD_UNITS_MIN_BATCH = 2;

export interface DeadUnits {
  node: string;
  /** the MLP layer, when the node belongs to one */
  layer?: number;
  dead: number;
  units: number;
}

/**
 * Counts the units (last axis) of a relu node's value [..., units] that are 0 on every row of the
 * batch: those get no gradient at all, so their incoming weights stop learning.
 */
export function deadUnits(node: CompiledNode, value: Tensor): Omit<DeadUnits, 'layer'> | undefined {
  if (node.op.name !== 'relu' || value.shape.length < 2) return undefined;
  const units = value.shape[value.shape.length - 1]!;
  const rows = units === 0 ? 0 : value.data.length / units;
  if (rows < DEAD_UNITS_MIN_BATCH) return undefined;
  const d = value.data;
  // Row by row, each row reading only the units not yet seen alive (after a few rows of a healthy
  // layer, a handful), until none is left: a unit that fires on one late row no longer costs a
  // pass over every unit of every row before it.
  const pending = new Int32Array(units);
  for (let j = 0; j < units; j++) pending[j] = j;
  let left = units;
  for (let o = 0; o < d.length && left > 0; o += units) {
    let kept = 0;
    for (let k = 0; k < left; k++) {
      const j = pending[k]!;
      if (d[o + j] === 0) pending[kept++] = j;
    }
    left = kept;
  }
  return { node: node.id, dead: left, units };
}

export interface DiagnoseInput {
  gradients: Tensors;
  loss?: number;
  /** weight names of an MLP's layers, input to output, for the layer-ratio checks */
  layerWeights?: readonly string[];
  dead?: readonly DeadUnits[];
  clip?: { maxNorm: number; totalNorm: number; clipped: boolean };
  /** parameters missing from the request, which the service drew with these specs */
  initialized?: Readonly<Record<string, InitSpec>>;
}

/** three significant digits, and a zero as 0 (not 0.00) */
const fmt = (x: number) => (x === 0 ? '0' : x.toPrecision(3));

/** `normal(mean=0, std=1, seed=0)` */
const describeInit = ({ scheme, ...rest }: InitSpec): string =>
  `${scheme}(${Object.entries(rest)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')})`;

export function diagnose({ gradients, loss, layerWeights = [], dead = [], clip, initialized = {} }: DiagnoseInput): Diagnostics {
  const gradNorms: Record<string, number> = {};
  let total = 0;
  const nonFinite: string[] = [];
  for (const [name, g] of Object.entries(gradients)) {
    const ss = sumSquares(g);
    gradNorms[name] = Math.sqrt(ss);
    total += ss;
    // a finite sum of squares needs every element finite: the second pass only runs when it is not
    if (!Number.isFinite(ss) && !allFinite(g)) nonFinite.push(name);
  }
  const globalGradNorm = Math.sqrt(total);
  const warnings: Warning[] = [];
  const lossBad = loss !== undefined && !Number.isFinite(loss);
  if (lossBad || nonFinite.length > 0) {
    const what = [lossBad ? `the loss is ${loss}` : '', nonFinite.length ? `gradients of ${nonFinite.join(', ')} hold NaN or ±Inf` : '']
      .filter(Boolean)
      .join('; ');
    warnings.push({ code: 'non_finite', message: `${what}: check inputs, learning rate and ops like log/div near 0`, params: { loss: loss ?? null, params: nonFinite } });
  } else if (Object.keys(gradients).length > 0) {
    layerChecks(layerWeights, gradNorms, warnings);
    if (globalGradNorm < VANISHING_GLOBAL_NORM) {
      warnings.push({
        code: 'vanishing_gradients',
        message: `the global gradient norm ${fmt(globalGradNorm)} is below ${VANISHING_GLOBAL_NORM}: parameters will barely move`,
        params: { globalGradNorm, threshold: VANISHING_GLOBAL_NORM },
      });
    }
    if (globalGradNorm > EXPLODING_GLOBAL_NORM) {
      warnings.push({
        code: 'exploding_gradients',
        message: `the global gradient norm ${fmt(globalGradNorm)} is above ${EXPLODING_GLOBAL_NORM}: consider clipGradNorm or a smaller learning rate`,
        params: { globalGradNorm, threshold: EXPLODING_GLOBAL_NORM },
      });
    }
  }
  for (const d of dead) {
    if (d.dead === 0) continue;
    const where = d.layer !== undefined ? `layer ${d.layer}` : `node "${d.node}"`;
    warnings.push({
      code: 'dead_units',
      message: `${d.dead} of ${d.units} ReLU units of ${where} output 0 for the whole batch and pass no gradient`,
      params: { ...d },
    });
  }
  // torch scales by maxNorm / (norm + 1e-6), so it "clips" a norm at or just under maxNorm too: said only when over
  if (clip?.clipped && clip.totalNorm > clip.maxNorm) {
    warnings.push({
      code: 'clipped',
      message: `the global gradient norm ${fmt(clip.totalNorm)} exceeds clipGradNorm ${clip.maxNorm}: the optimizer steps with gradients scaled down to it (the returned gradients are unclipped)`,
      params: { maxNorm: clip.maxNorm, totalNorm: clip.totalNorm },
    });
  }
  const created = Object.keys(initialized);
  if (created.length > 0) {
    const each = created.map((name) => `${name} with ${describeInit(initialized[name]!)}`);
    // a client that forgets a parameter (or misspells it) otherwise gets gradients of values it never chose
    warnings.push({
      code: 'initialized_params',
      message:
        `not in params, so initialized by the service: ${each.join('; ')}. The answer's params hold their values; ` +
        'send those back in the next request to keep training the same weights',
      params: { params: Object.fromEntries(created.map((name) => [name, initialized[name]])) },
    });
  }
  return { globalGradNorm, gradNorms, warnings };
}

function layerChecks(weights: readonly string[], norms: Record<string, number>, warnings: Warning[]): void {
  if (weights.length < 2) return;
  const first = norms[weights[0]!];
  const last = norms[weights[weights.length - 1]!];
  if (first === undefined || last === undefined || !(last > 0)) return;
  const ratio = first / last;
  const params = { firstLayer: weights[0], lastLayer: weights[weights.length - 1], firstNorm: first, lastNorm: last, ratio };
  if (ratio < VANISHING_LAYER_RATIO) {
    warnings.push({
      code: 'vanishing_gradients',
      message: `the first layer's weight gradient (norm ${fmt(first)}) is ${fmt(ratio)}× the last layer's (${fmt(last)}): early layers barely learn (saturating activations? try relu, layernorm or residual)`,
      params,
    });
  } else if (ratio > EXPLODING_LAYER_RATIO) {
    warnings.push({
      code: 'exploding_gradients',
      message: `the first layer's weight gradient (norm ${fmt(first)}) is ${fmt(ratio)}× the last layer's (${fmt(last)}): gradients grow towards the input`,
      params,
    });
  }
}
