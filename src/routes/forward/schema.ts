import { z } from 'zod';
import { examples, twoWeight, xorMlp } from '../shared/examples.js';
import { checkLossFields, modelFields, refuseFlags, ResultTensorMapSchema, ResultTensorSchema, TimingSchema } from '../shared/schema.js';

const { outputGrad: _unused, ...fields } = modelFields;

export const ForwardBodySchema = z
  .strictObject(fields)
  .superRefine(checkLossFields)
  .superRefine(refuseFlags({ inputGradients: 'a forward pass computes no gradients: ask /v1/gradients' }))
  .describe('a model, its parameters and a batch; optionally a loss')
  .meta(
    examples([
      ['twoWeight', 'h = w1·x, y = w2·h, L = (y − t)² = 6.25', twoWeight],
      ['mlp', 'XOR, 2-4-1 tanh MLP with BCE loss', xorMlp],
    ]),
  );

export const ForwardResponseSchema = z
  .object({
    loss: z.number().nullable().optional().describe('the scalar loss, when there is one (null if not finite)'),
    outputs: ResultTensorSchema.describe('the model output'),
    intermediates: ResultTensorMapSchema.optional().describe('every node\'s value by id (options.returnIntermediates)'),
    timing: TimingSchema,
  })
  .describe('the loss and the model output');
