import { z } from 'zod';
import { ClipGradNormSchema } from '../../engine/optim/index.js';
import { OptimizerRequestSchema } from '../gradients/schema.js';
import { examples, twoWeight, xorMlp } from '../shared/examples.js';
import {
  checkLossFields,
  ComputeTimingSchema,
  modelFields,
  ProblemSchema,
  refuseFlags,
  ResultOptimizerStateSchema,
  ResultTensorMapSchema,
  WarningSchema,
} from '../shared/schema.js';

const { outputGrad: _unused, ...fields } = modelFields;

export const TrainBodySchema = z
  .strictObject({
    ...fields,
    optimizer: OptimizerRequestSchema,
    clipGradNorm: ClipGradNormSchema.optional(),
    steps: z.number().int().min(1).max(1_000_000).describe('optimizer steps to take (the time limit applies to the whole run)'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('rows of the batch per step, cycling through epochs (the last batch of an epoch may be short); default: the whole batch every step'),
    shuffleSeed: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('shuffle the rows each epoch with this seed (reproducible); default: rows in order'),
  })
  .superRefine(checkLossFields)
  .superRefine(
    refuseFlags({
      returnOutputs: 'a training run answers its parameters, not outputs: ask /v1/forward with the trained params',
      returnIntermediates: 'a training run answers its parameters, not node values: ask /v1/forward or /v1/gradients with the trained params',
      inputGradients: 'a training run answers no input gradients: ask /v1/gradients with the trained params',
    }),
  )
  .describe('a training run: the body of /v1/gradients with a required optimizer, plus steps')
  .meta(
    examples([
      ['twoWeight', 'the two-weight chain, 20 SGD steps (lr 0.01) towards y = t', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps: 20 }],
      ['mlpAdam', 'XOR, 2-4-1 tanh MLP, 200 Adam steps (lr 0.05)', { ...xorMlp, optimizer: { type: 'adam', lr: 0.05 }, steps: 200 }],
    ]),
  );

export const TrainStepSchema = z
  .object({
    step: z.number().int().describe('the step just taken, from 1'),
    loss: z.number().nullable().describe('the loss before this step\'s update'),
    globalGradNorm: z.number().nullable().describe('L2 norm of all gradients of this step, before clipping'),
  })
  .describe('one streamed line per optimizer step');

export const TrainResponseSchema = z
  .object({
    losses: z.array(z.number().nullable()).describe('the loss at each step, before that step\'s update'),
    params: ResultTensorMapSchema.describe('the parameters after the last step'),
    optimizerState: ResultOptimizerStateSchema,
    warnings: z.array(WarningSchema).describe('non_finite when the loss or the parameters stopped being finite: the run diverged'),
    timing: ComputeTimingSchema,
  })
  .describe('the loss curve, the trained parameters and the optimizer state');

export const TrainStreamSchema = z
  .union([
    TrainStepSchema,
    TrainResponseSchema,
    z.object({ error: ProblemSchema }).describe('a failure after streaming began (e.g. the time limit): the last line'),
  ])
  .describe('application/x-ndjson: one TrainStep line per step as it happens, then the final object (or an error line)');
