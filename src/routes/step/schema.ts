import { z } from 'zod';
import { ClipGradNormSchema } from '../../engine/optim/index.js';
import { OptionsSchema } from '../../wire/spec.js';
import { OptimizerRequestSchema } from '../gradients/schema.js';
import { examples } from '../shared/examples.js';
import {
  ComputeTimingSchema,
  DiagnosticsSchema,
  ResultOptimizerStateSchema,
  ResultTensorMapSchema,
  TensorMapSchema,
} from '../shared/schema.js';

export const StepBodySchema = z
  .strictObject({
    params: TensorMapSchema.describe('the current parameters by name'),
    gradients: TensorMapSchema.describe('dL/dparam for every parameter, same shapes (e.g. summed across data-parallel replicas)'),
    optimizer: OptimizerRequestSchema.describe('the optimizer, its hyper-parameters and `state` from the previous step'),
    clipGradNorm: ClipGradNormSchema.optional(),
    options: OptionsSchema.pick({ dtype: true, encoding: true }).prefault({}).describe('compute precision and response encoding'),
  })
  .describe('one optimizer step on given parameters and gradients')
  .meta(
    examples([
      [
        'sgd',
        'SGD, lr 0.1, on the two-weight gradients: w1 = 0.5 − 0.1·15 = −1, w2 = −1.5 − 0.1·(−5) = −1',
        { params: { w1: 0.5, w2: -1.5 }, gradients: { w1: 15, w2: -5 }, optimizer: { type: 'sgd', lr: 0.1 } },
      ],
      [
        'adamWithState',
        'Adam, second step: send the previous optimizerState back as optimizer.state',
        {
          params: { w: [0.99, -0.99] },
          gradients: { w: [0.5, -0.5] },
          optimizer: {
            type: 'adam',
            lr: 0.01,
            state: { step: 1, state: { w: { step: 1, exp_avg: [0.1, -0.1], exp_avg_sq: [0.001, 0.001] } } },
          },
        },
      ],
    ]),
  );

export const StepResponseSchema = z
  .object({
    params: ResultTensorMapSchema.describe('the parameters after the step'),
    optimizerState: ResultOptimizerStateSchema,
    diagnostics: DiagnosticsSchema.optional(),
    timing: ComputeTimingSchema,
  })
  .describe('the updated parameters and optimizer state');
