import { z } from 'zod';
import { GradcheckConfigSchema, GradcheckResultSchema } from '../../engine/index.js';
import { examples, twoWeight, xorMlp } from '../shared/examples.js';
import { checkLossFields, ComputeTimingSchema, modelFields } from '../shared/schema.js';

export const GradcheckBodySchema = z
  .strictObject({
    ...modelFields,
    gradcheck: GradcheckConfigSchema.prefault({}),
  })
  .superRefine(checkLossFields)
  .describe('the body of /v1/gradients without optimizer, plus the finite-difference settings')
  .meta(
    examples([
      ['twoWeight', 'the two-weight chain: backprop 15 and −5 against finite differences', twoWeight],
      ['mlp', 'XOR, 2-4-1 tanh MLP with BCE loss, every weight checked', { ...xorMlp, gradcheck: { maxElementsPerParam: 8 } }],
    ]),
  );

export const GradcheckResponseSchema = GradcheckResultSchema.safeExtend({ timing: ComputeTimingSchema });
