import { z } from 'zod';
import type { Limits, ModelJob } from './api.js';
import { evaluate } from './evaluate.js';
import { seededRng } from './init/index.js';
import { BACKWARD_PASSES, withinBudget } from './cost.js';
import { buildModel } from './model.js';
import type { AnyOp } from './op.js';
import { runForward } from './run.js';
import { cast, type Tensor } from './tensor.js';

// Backpropagation against central finite differences, both in float64 whatever the request's dtype:
// the check is about the VJPs and the engine, not about float32 rounding.

export const GradcheckConfigSchema = z
  .strictObject({
    eps: z.number().positive().max(1).default(1e-6).describe('finite-difference step h: numeric = (L(p + h) − L(p − h)) / 2h'),
    atol: z.number().min(0).default(1e-5).describe('absolute tolerance'),
    rtol: z.number().min(0).default(1e-3).describe('relative tolerance: an element passes when |backprop − numeric| ≤ atol + rtol·|numeric|'),
    maxElementsPerParam: z.number().int().min(1).max(4096).default(64).describe('elements checked per parameter (all of them when it has no more); each costs two forward passes'),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).describe('chooses which elements are checked when a parameter has more than maxElementsPerParam'),
  })
  .describe('finite-difference check settings (torch.autograd.gradcheck-style, central differences in float64)');
export type GradcheckConfig = z.infer<typeof GradcheckConfigSchema>;

export const ParamCheckSchema = z
  .strictObject({
    maxAbsError: z.number().describe('largest |backprop − numeric| over the checked finite elements'),
    maxRelError: z.number().describe('largest |backprop − numeric| / max(|backprop|, |numeric|) over the checked finite elements (0 where both are 0)'),
    checked: z.number().int().describe('how many elements were checked'),
    nonFinite: z.number().int().describe('checked elements whose backprop or numeric gradient was NaN or ±Inf (each fails)'),
    passed: z.boolean().describe('every checked element within atol + rtol·|numeric|'),
  })
  .describe('the check of one parameter');

export const GradcheckResultSchema = z
  .strictObject({
    passed: z.boolean().describe('every parameter passed'),
    params: z.record(z.string(), ParamCheckSchema).describe('per parameter, by name'),
  })
  .describe('backpropagation compared with central finite differences in float64');
export type GradcheckResult = z.infer<typeof GradcheckResultSchema>;

/** `k` distinct indices of [0, n) in increasing order, drawn by Floyd's algorithm (no O(n) array). */
function sample(n: number, k: number, seed: number, stream: string): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const rng = seededRng(seed, stream);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(rng.nextDouble() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

export function gradcheck(job: ModelJob, cfg: GradcheckConfig, limits: Limits, ops: ReadonlyMap<string, AnyOp>): GradcheckResult {
  const m = buildModel(job, limits, { ops, dtype: 'float64' });
  let checked = 0;
  for (const p of Object.values(m.params)) checked += Math.min(p.data.length, cfg.maxElementsPerParam);
  withinBudget(m.graph, limits, {
    what: `the check of ${checked} elements (two forward passes each, after one backpropagation)`,
    passes: 2 * checked + 1 + BACKWARD_PASSES,
    path: ['gradcheck', 'maxElementsPerParam'],
    lower: 'check fewer elements per parameter (gradcheck.maxElementsPerParam) or a smaller batch',
  });
  const outputGrad = job.outputGrad && cast(job.outputGrad, 'float64');
  const ev = evaluate(m, { backward: true, outputGrad });
  // the scalar whose gradient backprop computed: the loss, or <output, outputGrad>
  const target = m.loss ?? m.output;
  const objective = (): number => {
    const v = runForward(m.graph, m.leaves, { targets: [target] })[target]!;
    if (m.loss !== undefined || !outputGrad) return v.data[0]!;
    let s = 0;
    for (let i = 0; i < v.data.length; i++) s += v.data[i]! * outputGrad.data[i]!;
    return s;
  };

  const params: GradcheckResult['params'] = {};
  let passed = true;
  for (const [name, p] of Object.entries(m.params)) {
    const analytic = Float64Array.from(ev.gradients[name]!.data);
    const r = checkParam(p, analytic, objective, cfg, sample(p.data.length, cfg.maxElementsPerParam, cfg.seed, name));
    params[name] = r;
    passed &&= r.passed;
  }
  return { passed, params };
}

function checkParam(p: Tensor, analytic: Float64Array, objective: () => number, cfg: GradcheckConfig, indices: number[]) {
  const { eps, atol, rtol } = cfg;
  let maxAbsError = 0;
  let maxRelError = 0;
  let nonFinite = 0;
  let passed = true;
  for (const j of indices) {
    const saved = p.data[j]!;
    p.data[j] = saved + eps;
    const plus = objective();
    p.data[j] = saved - eps;
    const minus = objective();
    p.data[j] = saved;
    const numeric = (plus - minus) / (2 * eps);
    const a = analytic[j]!;
    if (!Number.isFinite(numeric) || !Number.isFinite(a)) {
      nonFinite++;
      passed = false;
      continue;
    }
    const abs = Math.abs(a - numeric);
    const scale = Math.max(Math.abs(a), Math.abs(numeric));
    maxAbsError = Math.max(maxAbsError, abs);
    maxRelError = Math.max(maxRelError, scale > 0 ? abs / scale : 0);
    if (!(abs <= atol + rtol * Math.abs(numeric))) passed = false;
  }
  return { maxAbsError, maxRelError, checked: indices.length, nonFinite, passed };
}
