import { z } from 'zod';
import {
  AdagradSchema,
  AdamSchema,
  AdamWSchema,
  ClipGradNormSchema,
  RmspropSchema,
  SgdSchema,
} from '../../engine/optim/index.js';
import { adam, examples, smallCnn, tinyOnnx, tinyTransformer, twoWeight, twoWeightId, xorMlp } from '../shared/examples.js';
import {
  checkLossFields,
  DiagnosticsSchema,
  modelFields,
  OptimizerStateSchema,
  ResultOptimizerStateSchema,
  ResultTensorMapSchema,
  ResultTensorSchema,
  TimingSchema,
} from '../shared/schema.js';

const state = { state: OptimizerStateSchema.optional() };

export const OptimizerRequestSchema = z
  .discriminatedUnion('type', [
    SgdSchema.safeExtend(state),
    AdamSchema.safeExtend(state),
    AdamWSchema.safeExtend(state),
    RmspropSchema.safeExtend(state),
    AdagradSchema.safeExtend(state),
  ])
  .describe(
    'an optimizer step after backpropagation, exactly as torch.optim computes it: `type` and its hyper-parameters ' +
      '(torch names in camelCase, torch defaults), plus `state` = the previous response\'s optimizerState',
  );

export const GradientsBodySchema = z
  .strictObject({
    ...modelFields,
    optimizer: OptimizerRequestSchema.optional(),
    clipGradNorm: ClipGradNormSchema.optional(),
  })
  .superRefine(checkLossFields)
  .superRefine((body, ctx) => {
    // the returned gradients are never clipped: without a step, clipping would change nothing
    if (body.clipGradNorm !== undefined && body.optimizer === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['clipGradNorm'],
        message: 'clips the gradients the optimizer steps with (the answer\'s gradients are unclipped): give an optimizer too, or leave it out (diagnostics.globalGradNorm is the norm it would clip)',
      });
    }
  })
  .describe('a model, its parameters and a batch; optionally a loss, an optimizer and gradient clipping')
  .meta(
    examples([
      ['twoWeight', 'h = w1·x, y = w2·h, L = (y − t)²: dL/dw1 = 15, dL/dw2 = −5', twoWeight],
      [
        'twoWeightByRef',
        'the same chain by reference: register it first (POST /v1/models, example twoWeight), then send its id',
        { ...twoWeight, model: { ref: twoWeightId } },
      ],
      ['mlpAdam', 'XOR, 2-4-1 tanh MLP with BCE loss and one Adam step', { ...xorMlp, optimizer: adam }],
      ['cnn', 'a small CNN on two 4×4 images: conv2d → relu → max_pool2d → flatten → linear → cross_entropy', smallCnn],
      [
        'transformer',
        'a one-block transformer language model (embedding, 2 heads of causal scaled_dot_product_attention, gelu MLP, cross-entropy on the next ids with ignoreIndex −100) over 2 sequences of 4 ids from a vocabulary of 11; parameters drawn by the service',
        tinyTransformer,
      ],
      ['onnx', 'an ONNX file (torch nn.Linear(3, 2), torch.onnx.export): cross-entropy on its output "logits", gradients by initializer name', tinyOnnx],
    ]),
  );

export const IntermediateSchema = z
  .object({
    value: ResultTensorSchema.describe('the node\'s value'),
    grad: ResultTensorSchema.nullable().describe('dL/d(node), null where no gradient flows'),
  })
  .describe('one node\'s value and gradient');

export const GradientsResponseSchema = z
  .object({
    loss: z.number().nullable().optional().describe('the scalar loss (absent with outputGrad; null if not finite)'),
    gradients: ResultTensorMapSchema.describe('dL/dparam for every parameter, same shape; before clipping and before the optimizer step'),
    params: ResultTensorMapSchema.optional().describe(
      'parameters after the optimizer step, or the values the service initialized',
    ),
    optimizerState: ResultOptimizerStateSchema.optional(),
    outputs: ResultTensorSchema.optional().describe('the model output (options.returnOutputs)'),
    inputGradients: ResultTensorMapSchema.optional().describe('dL/dinput (options.inputGradients)'),
    intermediates: z
      .record(z.string(), IntermediateSchema)
      .optional()
      .describe('every node\'s value and gradient by id (options.returnIntermediates)'),
    diagnostics: DiagnosticsSchema.optional(),
    timing: TimingSchema,
  })
  .describe('loss, gradients and (with an optimizer) the updated parameters and state');
