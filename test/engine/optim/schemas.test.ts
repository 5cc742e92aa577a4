import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { OPTIMIZER_SCHEMAS, OptimizerConfigSchema, optimizers } from '../../../src/engine/optim/index.js';

describe('optimizer config schemas', () => {
  it("fill torch's defaults", () => {
    const parse = (raw: unknown) => OptimizerConfigSchema.parse(raw);
    expect(parse({ type: 'sgd', lr: 0.1 })).toEqual({ type: 'sgd', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
    expect(parse({ type: 'adam' })).toEqual({ type: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    expect(parse({ type: 'adamw' })).toEqual({ type: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
    expect(parse({ type: 'rmsprop' })).toEqual({
      type: 'rmsprop', lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false, weightDecay: 0, maximize: false,
    });
    expect(parse({ type: 'adagrad' })).toEqual({
      type: 'adagrad', lr: 1e-2, lrDecay: 0, eps: 1e-10, weightDecay: 0, initialAccumulatorValue: 0, maximize: false,
    });
  });

  it('describe every field', () => {
    for (const schema of OPTIMIZER_SCHEMAS) {
      expect(schema.description).toBeTruthy();
      for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
        expect(field.description, `${schema.shape.type.value}.${key}`).toBeTruthy();
      }
    }
  });

  it('have one registered optimizer per schema, by type', () => {
    const types = OPTIMIZER_SCHEMAS.map((s) => s.shape.type.value);
    expect([...optimizers.keys()].sort()).toEqual([...types].sort());
    for (const [type, def] of optimizers) expect(def.type).toBe(type);
  });
});
