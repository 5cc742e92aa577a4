import { z } from 'zod';
import type { OptimizerState } from '../api.js';
import { SpecError, type Path } from '../errors.js';
import { allocData, dtypeOf, formatElement, formatShape, isTensor, sameShape, type Data, type Tensor } from '../tensor.js';

export type { OptimizerState } from '../api.js';

/** A parameter's buffers during an update, under torch's names, in the parameter's dtype. */
export type Buffers = Record<string, Data>;

/**
 * One torch.optim algorithm. The runner validates and copies everything, so `update` works in place
 * on fresh arrays of one parameter.
 *
 * NOTE (float arithmetic): every element is computed in float64 (JS numbers) and rounded to the
 * parameter's dtype when stored into the parameter or a buffer, so float64 matches torch to the
 * last few ulps and float32 differs from torch's float32 kernels only by the rounding of
 * intermediates within one element's update (about one float32 ulp per step).
 */
export interface OptimizerDef<C extends { type: string }> {
  type: C['type'];
  /** every buffer name the algorithm ever keeps (an unused one, e.g. after turning amsgrad off, is kept as torch keeps it) */
  bufferNames: readonly string[];
  /** the buffers a parameter's state must hold once the parameter has been stepped */
  required: (config: C) => string[];
  /** whether torch keeps a per-parameter `step` in the state (it feeds bias corrections and lr decay) */
  perParamStep: boolean;
  /** buffers of squared gradients, whose square roots divide the step: a negative element makes NaN */
  squares?: readonly string[];
  /** torch's lazy state initialization before a parameter's first step (SGD creates its buffer in `update`) */
  init: (config: C, param: Tensor) => Buffers;
  /** one step of one parameter; `step` is that parameter's step count including this one */
  update: (config: C, p: Data, g: Data, buf: Buffers, step: number) => void;
}

/** torch's `maximize`, which every optimizer has: ascend the objective, stepping with the negated gradient. */
export const MAXIMIZE = {
  maximize: z.boolean().default(false).describe('ascend the objective instead of descending it: step with the negated gradient'),
};

const STATE: Path = ['optimizer', 'state'];

function shapeMismatch(t: Tensor, param: Tensor): string {
  return `shape ${formatShape(t.shape)} does not match the parameter's ${formatShape(param.shape)}`;
}

function own<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A step count given as a number or a one-element tensor (a decoded scalar), if it is a non-negative integer. */
function readCount(v: unknown): number | undefined {
  const n = isTensor(v) && v.data.length === 1 ? v.data[0]! : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

interface ParamState {
  buffers: Buffers;
  step: number;
}

/** Reads and copies one parameter's state, or records why it cannot be used. */
function readParamState<C extends { type: string }>(
  def: OptimizerDef<C>,
  config: C,
  name: string,
  param: Tensor,
  entry: Record<string, Tensor | number> | undefined,
  globalStep: number,
  issues: { path: Path; message: string }[],
): ParamState {
  const path = [...STATE, 'state', name];
  const required = [...(def.perParamStep ? ['step'] : []), ...def.required(config)];
  if (entry !== undefined && (typeof entry !== 'object' || entry === null || isTensor(entry))) {
    issues.push({ path, message: 'must be an object of buffers by name' });
    return { buffers: {}, step: 0 };
  }
  const keys = entry === undefined ? [] : Object.keys(entry);
  if (keys.length === 0) {
    if (globalStep > 0 && required.length > 0) {
      issues.push({
        path: [...path, required[0]!],
        message:
          `missing: after step ${globalStep}, ${def.type} keeps ${required.join(', ')} for every parameter; ` +
          'send back the optimizerState of the previous response',
      });
    }
    return { buffers: def.init(config, param), step: 0 };
  }
  const dtype = dtypeOf(param);
  const buffers: Buffers = {};
  let step = 0;
  for (const key of keys) {
    const v = entry![key];
    if (key === 'step' && def.perParamStep) {
      const n = readCount(v);
      if (n === undefined) issues.push({ path: [...path, key], message: 'the step count must be a non-negative integer' });
      // every parameter steps each time, so an answer's counts agree: these are not one answer's
      else if (n !== globalStep) {
        issues.push({ path: [...path, key], message: `${n} steps, where the state's step says ${globalStep}: send back the optimizerState of the previous response` });
      } else step = n;
    } else if (!def.bufferNames.includes(key)) {
      const known = [...(def.perParamStep ? ['step'] : []), ...def.bufferNames].join(', ');
      issues.push({ path: [...path, key], message: `${def.type} keeps no "${key}" (its state holds ${known})` });
    } else if (!isTensor(v)) {
      issues.push({ path: [...path, key], message: 'must be a tensor' });
    } else if (!sameShape(v.shape, param.shape)) {
      issues.push({ path: [...path, key], message: shapeMismatch(v, param) });
    } else {
      const copy = allocData(v.data.length, dtype);
      copy.set(v.data);
      buffers[key] = copy;
      const negative = def.squares?.includes(key) ? copy.findIndex((x) => x < 0) : -1;
      if (negative >= 0) {
        issues.push({
          path: [...path, key],
          message: `holds squared gradients, so no negative element; element ${negative} is ${formatElement(copy, negative)}: send back the optimizerState of the previous response`,
        });
      }
    }
  }
  for (const key of required) {
    if (!keys.includes(key)) issues.push({ path: [...path, key], message: `missing: ${def.type} with this configuration needs it` });
  }
  return { buffers, step };
}

/**
 * One optimizer step over every parameter, as torch.optim's single-tensor (foreach=False) path.
 * Pure: inputs are never mutated. Every parameter needs a gradient of its shape; problems are
 * reported all at once as a SpecError with request paths (`gradients.w1`, `optimizer.state.state.w1.exp_avg`).
 */
export function runStep<C extends { type: string; maximize?: boolean }>(
  def: OptimizerDef<C>,
  config: C,
  params: Record<string, Tensor>,
  grads: Record<string, Tensor>,
  state: OptimizerState | undefined,
): { params: Record<string, Tensor>; state: OptimizerState } {
  const issues: { path: Path; message: string }[] = [];
  const globalStep = state?.step ?? 0;
  if (!Number.isSafeInteger(globalStep) || globalStep < 0) {
    throw new SpecError([...STATE, 'step'], 'must be a non-negative integer');
  }
  const prev = state?.state ?? {};
  if (typeof prev !== 'object' || prev === null || Array.isArray(prev)) {
    throw new SpecError([...STATE, 'state'], 'must be an object of per-parameter state by parameter name');
  }
  for (const name of Object.keys(grads)) {
    if (!Object.hasOwn(params, name)) issues.push({ path: ['gradients', name], message: 'there is no parameter of that name' });
  }
  for (const name of Object.keys(prev)) {
    if (!Object.hasOwn(params, name)) issues.push({ path: [...STATE, 'state', name], message: 'there is no parameter of that name' });
  }
  const read = new Map<string, ParamState>();
  for (const [name, param] of Object.entries(params)) {
    const g = own(grads, name);
    if (g === undefined) issues.push({ path: ['gradients', name], message: 'missing: every parameter needs a gradient' });
    else if (!sameShape(g.shape, param.shape)) {
      issues.push({ path: ['gradients', name], message: shapeMismatch(g, param) });
    }
    read.set(name, readParamState(def, config, name, param, own(prev, name), globalStep, issues));
  }
  if (issues.length > 0) throw new SpecError(issues);

  // entries, not assignments: a parameter named "__proto__" must stay an own property
  const outParams: [string, Tensor][] = [];
  const outState: [string, Record<string, Tensor | number>][] = [];
  for (const [name, param] of Object.entries(params)) {
    const { buffers, step } = read.get(name)!;
    const p = param.data.slice();
    const g = grads[name]!.data;
    // as torch: the gradient is negated first, before weight decay and the rest see it
    def.update(config, p, config.maximize ? g.map((v) => -v) : g, buffers, step + 1);
    outParams.push([name, { shape: [...param.shape], data: p }]);
    const entry: Record<string, Tensor | number> = def.perParamStep ? { step: step + 1 } : {};
    for (const key of def.bufferNames) {
      const b = buffers[key];
      if (b !== undefined) entry[key] = { shape: [...param.shape], data: b };
    }
    outState.push([name, entry]);
  }
  return {
    params: Object.fromEntries(outParams),
    state: { step: globalStep + 1, state: Object.fromEntries(outState) },
  };
}
