import { z } from 'zod';
import type { Limits, ModelJob } from './api.js';
import { evaluate } from './evaluate.js';
import { seededRng } from './init/index.js';
import { BACKWARD_PASSES, withinBudget } from './cost.js';
import { buildModel } from './model.js';
import type { AnyOp } from './op.js';
import { runForward } from './run.js';
import { finite } from './nested.js';
import { cast, stridesOf, type Tensor } from './tensor.js';

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

export const WorstElementSchema = z
  .strictObject({
    index: z.number().int().describe('the element\'s flat index in the parameter (row-major)'),
    multiIndex: z.array(z.number().int()).describe('the same element\'s index in the parameter\'s shape, e.g. [1, 0]; [] for a scalar'),
    backprop: z.number().nullable().describe('the gradient backpropagation gave this element; null for NaN or ±Inf'),
    numeric: z.number().nullable().describe('(L(p + h) − L(p − h)) / 2h at this element; null for NaN or ±Inf'),
    hint: z
      .string()
      .optional()
      .describe('present when the element failed where L has a kink (its slopes left and right of the point differ and backprop took one of them): a non-smooth op such as relu or abs at 0, or max at a tie, rather than a wrong VJP'),
  })
  .describe('the checked element furthest beyond its tolerance (a non-finite one first), as torch.autograd.gradcheck names the numerical and analytical values of a mismatch');

export const ParamCheckSchema = z
  .strictObject({
    maxAbsError: z.number().describe('largest |backprop − numeric| over the checked finite elements'),
    maxRelError: z.number().describe('largest |backprop − numeric| / max(|backprop|, |numeric|) over the checked finite elements (0 where both are 0)'),
    checked: z.number().int().describe('how many elements were checked'),
    nonFinite: z.number().int().describe('checked elements whose backprop or numeric gradient was NaN or ±Inf (each fails)'),
    passed: z.boolean().describe('every checked element within atol + rtol·|numeric|'),
    worst: WorstElementSchema.optional().describe('where the check came nearest to failing or failed worst; absent when no element was checked (an empty parameter)'),
  })
  .describe('the check of one parameter');
type ParamCheck = z.infer<typeof ParamCheckSchema>;

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

  // L at the point sent, needed only to tell a kink from a wrong VJP
  let atPoint: number | undefined;
  const base = () => (atPoint ??= objective());
  const params: GradcheckResult['params'] = {};
  let passed = true;
  for (const [name, p] of Object.entries(m.params)) {
    const analytic = Float64Array.from(ev.gradients[name]!.data);
    const r = checkParam(p, analytic, objective, base, cfg, sample(p.data.length, cfg.maxElementsPerParam, cfg.seed, name));
    params[name] = r;
    passed &&= r.passed;
  }
  return { passed, params };
}

function checkParam(p: Tensor, analytic: Float64Array, objective: () => number, base: () => number, cfg: GradcheckConfig, indices: number[]): ParamCheck {
  const { eps, atol, rtol } = cfg;
  let maxAbsError = 0;
  let maxRelError = 0;
  let nonFinite = 0;
  let passed = true;
  // ranked by how far past its tolerance it is, so a small gradient's failure outranks a large one's pass
  let worst: { j: number; a: number; numeric: number; plus: number; minus: number; excess: number } | undefined;
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
      if (worst === undefined || worst.excess < Infinity) worst = { j, a, numeric, plus, minus, excess: Infinity };
      continue;
    }
    const abs = Math.abs(a - numeric);
    const scale = Math.max(Math.abs(a), Math.abs(numeric));
    maxAbsError = Math.max(maxAbsError, abs);
    maxRelError = Math.max(maxRelError, scale > 0 ? abs / scale : 0);
    const excess = abs - (atol + rtol * Math.abs(numeric));
    if (!(excess <= 0)) passed = false;
    if (worst === undefined || excess > worst.excess) worst = { j, a, numeric, plus, minus, excess };
  }
  const r: ParamCheck = { maxAbsError, maxRelError, checked: indices.length, nonFinite, passed };
  if (worst !== undefined) {
    const strides = stridesOf(p.shape);
    r.worst = {
      index: worst.j,
      multiIndex: p.shape.map((n, d) => Math.floor(worst.j / strides[d]!) % n),
      backprop: finite(worst.a),
      numeric: finite(worst.numeric),
    };
    const hint = worst.excess > 0 && worst.excess < Infinity ? kinkHint(worst.a, worst.plus, worst.minus, base(), cfg) : undefined;
    if (hint !== undefined) r.worst.hint = hint;
  }
  return r;
}

const show = (x: number) => String(Number(x.toPrecision(6)));

/**
 * A failure at a kink of L, said as such. Central differences give the mean of the slopes either side
 * of the point; where those differ and backprop took one of them (relu's 0 at 0, say), the VJP chose a
 * subgradient and the check cannot judge it there. At a smooth point backprop sits halfway between the
 * one-sided slopes, so "near one side" does not mistake a coarse step for a kink.
 */
function kinkHint(a: number, plus: number, minus: number, atPoint: number, cfg: GradcheckConfig): string | undefined {
  const left = (atPoint - minus) / cfg.eps;
  const right = (plus - atPoint) / cfg.eps;
  if (!Number.isFinite(left) || !Number.isFinite(right)) return undefined;
  const spread = Math.abs(right - left);
  if (!(spread > cfg.atol + cfg.rtol * Math.max(Math.abs(left), Math.abs(right)))) return undefined;
  const side = Math.abs(a - left) <= Math.abs(a - right) ? 'left' : 'right';
  if (Math.abs(a - (side === 'left' ? left : right)) > spread / 10) return undefined;
  return (
    `L has a kink at this element: its slope is ${show(left)} to the left and ${show(right)} to the right. Central ` +
    `differences average the two; backprop took the ${side} one, a subgradient. A non-smooth op at its kink (relu or ` +
    'abs at 0, max or min at a tie, clamp at a bound) does this, not a wrong VJP: check at a point off the kink.'
  );
}
