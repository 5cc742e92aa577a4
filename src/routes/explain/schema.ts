import { z } from 'zod';
import { ExplainResultSchema } from '../../engine/index.js';
import { examples, twoWeight } from '../shared/examples.js';
import { checkLossFields, ComputeTimingSchema, modelFields } from '../shared/schema.js';

export const ExplainBodySchema = z
  .strictObject(modelFields)
  .superRefine(checkLossFields)
  .describe('a small model, its parameters and a batch (the body of /v1/gradients without optimizer)')
  .meta(
    examples([
      ['twoWeight', 'dL/dw1 = dL/dy · dy/dh · dh/dw1 = (−5)·(−1.5)·(2) = 15', twoWeight],
      [
        'mlp',
        'a 1-2-1 tanh MLP with MSE loss: adjoints and local Jacobians of every node',
        {
          model: { type: 'mlp', inputSize: 1, layers: [{ units: 2, activation: 'tanh' }, { units: 1 }], init: { scheme: 'default', seed: 0 } },
          inputs: [[0.5]],
          targets: [[1]],
          loss: { type: 'mse' },
        },
      ],
    ]),
  );

export const ExplainResponseSchema = ExplainResultSchema.safeExtend({ timing: ComputeTimingSchema });
