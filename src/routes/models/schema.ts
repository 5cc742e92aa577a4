import { z } from 'zod';
import { ModelSpecSchema, type ModelSpec } from '../../wire/spec.js';
import { KnownModel, MODEL_ID } from '../../plugins/models.js';
import { examples, tinyOnnxModel, twoWeightModel } from '../shared/examples.js';

export const ModelIdSchema = z
  .string()
  .regex(MODEL_ID, 'a model id: "sha256:" and 64 lowercase hex digits')
  .describe('a model\'s id: sha256 of its canonical JSON (keys sorted, no whitespace), as POST /v1/models answers it');

export const ModelRefSchema = z
  .strictObject({ ref: ModelIdSchema })
  .describe(
    'a model registered with POST /v1/models, by id. Send the id in the `X-Gradserve-Model` header too, so a balancer ' +
      'routes the request to the replica that knows it. Unknown on this replica (never registered here, evicted, restarted): ' +
      '404 MODEL_NOT_FOUND, and the client registers it again',
  );

/**
 * The compute routes' `model`: a spec, or `{ref}`. The routes' preValidation hook (shared/models.ts)
 * puts the KnownModel in place of a known ref or spec, which passes as it is: the spec inside it was
 * validated when it became known. The rest goes to the schema of its own form, so a bad spec gets
 * the discriminated union's precise paths, not a union's "no form matched". The JSON Schema is the union's.
 */
function modelField() {
  // NOTE: describe() returns a copy, which would not keep the parse below: it comes first
  const union = z
    .union([ModelRefSchema, ModelSpecSchema])
    .describe('the model: a spec (an MLP, a graph or an ONNX file), or {"ref": id} of a registered one');
  const parse: typeof union._zod.parse = (payload, ctx) => {
    const v = payload.value;
    if (v instanceof KnownModel) return payload;
    const isRef = v !== null && typeof v === 'object' && !Array.isArray(v) && 'ref' in v;
    return (isRef ? ModelRefSchema : ModelSpecSchema)._zod.run(payload, ctx) as typeof payload;
  };
  // a schema without checks runs its parse directly
  if (union._zod.run === union._zod.parse) union._zod.run = parse;
  union._zod.parse = parse;
  // what the handlers see once the hook has run: never a bare {ref}
  return union as unknown as z.ZodType<ModelSpec | KnownModel, ModelSpec | { ref: string }>;
}

export const ModelFieldSchema = modelField();

export const ModelSummarySchema = z
  .object({
    params: z
      .array(z.object({ name: z.string().describe('parameter name'), shape: z.array(z.number().int()).describe('its shape') }))
      .describe('the trainable tensors, in declaration order'),
    nodes: z.number().int().describe('graph nodes (an MLP\'s after expansion into linear, norm, activation and residual nodes)'),
    ops: z.record(z.string(), z.number().int()).describe('how many nodes use each op'),
  })
  .describe('what the model is made of');

export const RegisterBodySchema = ModelSpecSchema.meta(
  examples([
    ['twoWeight', 'the two-weight chain h = w1·x, y = w2·h, L = (y − t)²', twoWeightModel],
    ['onnx', 'an ONNX file (torch nn.Linear(3, 2)): its initializers are the summary\'s params', tinyOnnxModel],
  ]),
);

export const ModelAnswerSchema = z
  .object({
    id: ModelIdSchema,
    hash: z.string().describe('the sha256 of the canonical JSON, hex (the id without its prefix)'),
    summary: ModelSummarySchema,
  })
  .describe('a known model');

export const ModelWithSpecSchema = ModelAnswerSchema.extend({
  spec: z.unknown().describe('the spec as registered, in canonical form (registering it again gives the same id)'),
}).describe('a known model and its spec');

export const ModelParamsSchema = z.strictObject({ id: ModelIdSchema });
