import { z } from 'zod';
import { SpecError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { adagrad, AdagradSchema } from './adagrad.js';
import { adam, AdamSchema } from './adam.js';
import { adamw, AdamWSchema } from './adamw.js';
import { runStep, type OptimizerDef, type OptimizerState } from './define.js';
import { rmsprop, RmspropSchema } from './rmsprop.js';
import { sgd, SgdSchema } from './sgd.js';

export { AdagradSchema, type AdagradConfig } from './adagrad.js';
export { AdamSchema, type AdamConfig } from './adam.js';
export { AdamWSchema, type AdamWConfig } from './adamw.js';
export { RmspropSchema, type RmspropConfig } from './rmsprop.js';
export { SgdSchema, type SgdConfig } from './sgd.js';
export { clipGradNorm, ClipGradNormSchema } from './clip-grad-norm.js';
export type { OptimizerDef, OptimizerState } from './define.js';

/** One schema per optimizer, e.g. for a route that extends each with `state` (`.safeExtend`). */
export const OPTIMIZER_SCHEMAS = [SgdSchema, AdamSchema, AdamWSchema, RmspropSchema, AdagradSchema] as const;

export const OptimizerConfigSchema = z
  .discriminatedUnion('type', OPTIMIZER_SCHEMAS)
  .describe('the optimizer and its hyper-parameters (torch.optim names in camelCase, torch defaults), told apart by `type`');
export type OptimizerConfig = z.infer<typeof OptimizerConfigSchema>;
export type OptimizerType = OptimizerConfig['type'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const DEFS: readonly OptimizerDef<any>[] = [sgd, adam, adamw, rmsprop, adagrad];

/** The optimizers by `type`; a repeated type is a programming error, so building it throws. */
export const optimizers: ReadonlyMap<string, OptimizerDef<OptimizerConfig>> = (() => {
  const map = new Map<string, OptimizerDef<OptimizerConfig>>();
  for (const def of DEFS) {
    if (map.has(def.type)) throw new Error(`duplicate optimizer type in registry: ${def.type}`);
    map.set(def.type, def);
  }
  return map;
})();

/**
 * One optimizer step, exactly as torch.optim's single-tensor path computes it. Pure: returns new
 * params and state. `config` is validated again (defaults filled; an invalid one is a SpecError
 * under `optimizer`), so a raw `{type, lr, ...}` may be passed.
 */
export function step(
  config: z.input<typeof OptimizerConfigSchema>,
  params: Record<string, Tensor>,
  grads: Record<string, Tensor>,
  state?: OptimizerState,
): { params: Record<string, Tensor>; state: OptimizerState } {
  const parsed = OptimizerConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new SpecError(
      parsed.error.issues.map((i) => ({
        path: ['optimizer', ...i.path.map((k) => (typeof k === 'symbol' ? String(k) : k))],
        message: i.message,
      })),
    );
  }
  const def = optimizers.get(parsed.data.type)!;
  return runStep(def, parsed.data, params, grads, state);
}
