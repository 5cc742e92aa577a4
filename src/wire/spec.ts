import { z } from 'zod';
import { ComputeOptionsSchema, GraphNodeSchema, GraphParamSchema, IdSchema, MlpSpecSchema } from '../engine/spec.js';
import { EncodingSchema, TensorSchema } from './tensor.js';

// The request's model and options as they come over the wire: the engine's (engine/spec.ts) with a
// graph's constants and an ONNX file in their wire encodings, and the answer's encoding. The HTTP
// side decodes them (wire/request.ts) into what the engine takes (engine/api.ts DecodedModel).

export const GraphSpecSchema = z
  .strictObject({
    type: z.literal('graph').describe('an explicit computational graph'),
    inputs: z.array(IdSchema).default([]).describe('names of the data tensors in the request\'s `inputs` map'),
    params: z.record(IdSchema, GraphParamSchema).default({}).describe('trainable tensors by name'),
    constants: z.record(IdSchema, TensorSchema).default({}).describe('fixed tensors by name'),
    nodes: z.array(GraphNodeSchema).min(1).describe('the operations; may be listed in any order, must be acyclic'),
    output: IdSchema.describe('id of the node whose value is the model output (or the scalar loss)'),
  })
  .describe('a computational graph');
export type GraphSpec = z.infer<typeof GraphSpecSchema>;

export const OnnxSpecSchema = z
  .strictObject({
    type: z.literal('onnx').describe('a model in ONNX form (torch.onnx.export), opsets 13–18'),
    // NOTE: not `base64`, which the JSON body parser takes for a tensor's (wire/json-body.ts liftBase64)
    bytes: z.string().min(1).describe('the .onnx file, base64 (all tensors inside the file: no external data); in a safetensors body, the U8 tensor model/bytes'),
    batchnorm: z
      .enum(['eval', 'train'])
      .default('eval')
      .describe('BatchNormalization nodes: "eval" uses the file\'s running statistics (torch\'s model.eval()), "train" the batch\'s (model.train(); running statistics are not updated)'),
    frozen: z
      .array(z.string().min(1))
      .max(4096)
      .default([])
      .describe('float initializers to hold constant: no gradient, not stepped. The file does not tell a torch buffer (register_buffer) from a parameter; name buffers here, and params to freeze'),
  })
  .describe('an ONNX model: initializers become params under their names in the file (their values the defaults, `params` override them), graph inputs the `inputs` map; docs/onnx.md');
export type OnnxSpec = z.infer<typeof OnnxSpecSchema>;

export const ModelSpecSchema = z
  .discriminatedUnion('type', [MlpSpecSchema, GraphSpecSchema, OnnxSpecSchema])
  .describe('the model: an MLP, an explicit graph or an ONNX file, told apart by `type`');
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

const { dtype, ...flags } = ComputeOptionsSchema.shape;
export const OptionsSchema = z
  .strictObject({ dtype, encoding: EncodingSchema.default('nested'), ...flags })
  .describe('what to compute and return');
export type Options = z.infer<typeof OptionsSchema>;
