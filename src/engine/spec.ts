import { z } from 'zod';
import type { Tensor } from './tensor.js';
import { InitSpecSchema } from './init/index.js';

// zod schemas of what the engine computes with: MLPs, a graph's nodes and params, the loss and the
// computation's options (docs/api.md "Models" and the request tables). Plain data contracts, shared by
// the engine (types) and the HTTP side, whose request schemas (wire/spec.ts) add what belongs to the
// transport: a graph's constants and an ONNX file in their wire encodings, the answer's encoding.
// Semantic checks that need more than one field (references, shapes, cycles) belong to the graph
// compiler, which reports them with the same kind of paths.

export const DTypeSchema = z.enum(['float32', 'float64']).describe('IEEE-754 element type');

/**
 * Attribute values are small JSON (numbers, strings, short arrays). The job holding them is
 * structured-cloned into a worker, which recurses: a value nested thousands deep would overflow the
 * stack there, so nesting is bounded here, where the error can name the field.
 */
const MAX_ATTR_DEPTH = 8;

function nestedWithin(value: unknown, max: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return false;
    for (const c of Object.values(v)) stack.push({ v: c, depth: depth + 1 });
  }
  return true;
}

const AttrValueSchema = z
  .unknown()
  .refine((v) => nestedWithin(v, MAX_ATTR_DEPTH), `nested deeper than ${MAX_ATTR_DEPTH} levels`);

export const ACTIVATIONS = [
  'identity', 'relu', 'leaky_relu', 'elu', 'selu', 'gelu', 'gelu_tanh',
  'silu', 'sigmoid', 'tanh', 'softplus', 'softsign',
] as const;
export const ActivationNameSchema = z.enum(ACTIVATIONS).describe('activation function (PyTorch semantics and defaults)');

export const ActivationSchema = z
  .union([
    ActivationNameSchema,
    z
      .object({ type: ActivationNameSchema })
      .catchall(AttrValueSchema)
      .describe('an activation with parameters, e.g. {"type": "leaky_relu", "negativeSlope": 0.1}; the other keys are the op\'s attrs'),
  ])
  .describe('activation: a name, or {"type": name, ...attrs}');
export type Activation = z.infer<typeof ActivationSchema>;

export const IdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'an identifier: letters, digits, _ . : -, not starting with a digit')
  .refine((s) => s !== '__proto__' && s !== 'constructor' && s !== 'prototype', 'reserved name')
  .describe('identifier');

export const MlpLayerSchema = z
  .strictObject({
    units: z.number().int().min(1).describe('output width of the layer (PyTorch nn.Linear out_features)'),
    activation: ActivationSchema.default('identity'),
  })
  .describe('one fully connected layer: z = x·Wᵀ + b, then optional LayerNorm, activation, residual');

export const MlpSpecSchema = z
  .strictObject({
    type: z.literal('mlp').describe('a multi-layer perceptron'),
    inputSize: z.number().int().min(1).describe('width of each input row; `inputs` is [batch, inputSize]'),
    layers: z.array(MlpLayerSchema).min(1).describe('the layers, input to output'),
    bias: z.boolean().default(true).describe('whether each layer has a bias `layers.{i}.bias`'),
    norm: z.enum(['none', 'layernorm']).default('none').describe('LayerNorm after the affine map of each hidden layer'),
    residual: z.boolean().default(false).describe('add each layer\'s input to its output where the widths match'),
    init: InitSpecSchema.optional().describe('initializer for parameters not given in `params`; default: PyTorch nn.Linear init, seed 0'),
  })
  .describe('an MLP in PyTorch nn.Linear layout');
export type MlpSpec = z.infer<typeof MlpSpecSchema>;

/** A node input: the id of an input, param, constant or node, or a number literal. */
export const NodeInputSchema = z.union([IdSchema, z.number()]).describe('an id (input, param, constant or node) or a number literal');

export const GraphNodeSchema = z
  .strictObject({
    id: IdSchema.describe('unique id of the node'),
    op: z.string().describe('op name, see GET /v1/ops'),
    inputs: z.array(NodeInputSchema).max(64).describe('the op\'s operands, in order'),
    attrs: z.record(z.string(), AttrValueSchema).optional().describe('op attributes (see GET /v1/ops for each op\'s attributes and defaults)'),
  })
  .describe('one operation of the graph');

export const GraphParamSchema = z
  .strictObject({
    shape: z.array(z.number().int().min(0)).max(8).describe('shape of the trainable tensor'),
    init: InitSpecSchema.optional().describe('initializer used when the request does not give the value; default normal(0, 1) with seed 0'),
  })
  .describe('a trainable tensor');

export type GraphNode = z.infer<typeof GraphNodeSchema>;
export type GraphParam = z.infer<typeof GraphParamSchema>;

export const LOSS_TYPES = ['mse', 'l1', 'huber', 'bce', 'bce_with_logits', 'cross_entropy', 'nll'] as const;
export const LossSpecSchema = z
  .strictObject({
    type: z.enum(LOSS_TYPES).describe('loss applied to the model output against `targets` (the `<type>_loss` op)'),
    reduction: z.enum(['mean', 'sum']).default('mean').describe('mean or sum over the batch, as PyTorch'),
    delta: z.number().positive().optional().describe('huber only: the threshold (default 1)'),
    labelSmoothing: z.number().min(0).max(1).optional().describe('cross_entropy only: label smoothing (default 0)'),
    ignoreIndex: z.number().int().optional().describe('cross_entropy and nll only: a class-index target that counts for nothing, as torch ignore_index (default −100)'),
    weight: z.array(z.number()).min(1).optional().describe('cross_entropy and nll only: one weight per class (torch\'s weight); a mean over class indices divides by the weight of the targets kept'),
    output: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('ONNX models only: the graph output the loss takes, by its name in the file (default the first output)'),
  })
  .describe('the loss');
export type LossSpec = z.infer<typeof LossSpecSchema>;

/** The options the computation reads (wire/spec.ts OptionsSchema adds the answer's encoding). */
export const ComputeOptionsSchema = z
  .strictObject({
    dtype: DTypeSchema.default('float32').describe('compute precision'),
    returnOutputs: z.boolean().default(false).describe('include the model output'),
    returnIntermediates: z.boolean().default(false).describe('include the value and gradient of every node'),
    inputGradients: z.boolean().default(false).describe('include gradients with respect to the inputs'),
    diagnostics: z.boolean().default(true).describe('include gradient norms and warnings'),
  })
  .describe('what to compute and return');
export type Options = z.infer<typeof ComputeOptionsSchema>;

export type Tensors = Record<string, Tensor>;
