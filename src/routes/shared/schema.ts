import { z } from 'zod';
import { LossSpecSchema } from '../../engine/spec.js';
import { OptionsSchema } from '../../wire/spec.js';
import { ModelFieldSchema } from '../models/schema.js';
import { EncodedBase64, Float32Json, TensorSchema } from '../../wire/tensor.js';
import { MAX_NAME_CHARS } from '../../wire/safetensors-body.js';
import { ERRORS } from '../../errors.js';

// Pieces shared by the compute routes' request and response schemas.

const CODES = Object.keys(ERRORS) as [keyof typeof ERRORS, ...(keyof typeof ERRORS)[]];

export const ProblemSchema = z
  .object({
    type: z.string().describe('URI naming the kind of problem: urn:gradserve:problem:<code>'),
    title: z.string().describe('short, fixed summary of the kind of problem'),
    status: z.number().int().describe('the HTTP status code'),
    detail: z.string().describe('what went wrong with this request'),
    code: z.enum(CODES).describe('the error code, from the one catalogue'),
    instance: z.string().optional().describe('the request path'),
    requestId: z.string().describe('the request id (X-Request-Id), also in the logs'),
    errors: z
      .array(
        z.object({
          path: z.string().describe('the field at fault in the request body, e.g. model.nodes[3].inputs[1]'),
          message: z.string().describe('what is wrong with it'),
        }),
      )
      .optional()
      .describe('field-level problems'),
  })
  .describe('RFC 9457 problem details');

/** A tensor's name in a map: as long as a safetensors body takes it, so either encoding can carry it. */
const TensorNameSchema = z.string().min(1).max(MAX_NAME_CHARS);

export const TensorMapSchema = z.record(TensorNameSchema, TensorSchema).describe(`tensors by name (1 to ${MAX_NAME_CHARS} characters)`);

// The answer's base64 text: a string, or the tensor's bytes that the answer's writer encodes as it
// writes (wire/tensor.ts EncodedBase64); the client receives a string either way.
const Base64TextSchema = z
  .custom<string | EncodedBase64>((v) => typeof v === 'string' || v instanceof EncodedBase64, { message: 'expected a base64 string' })
  .meta({ type: 'string', description: 'little-endian IEEE-754 bytes, base64' });

/** Responses may hold NaN/±Inf (reported in diagnostics), which JSON writes as null. */
const OutNumber = z.number().nullable().describe('a number; null when not finite (JSON has no NaN/Infinity)');

// Numbers as JSON arrays: arrays, or a float32 tensor's elements that the answer's writer prints
// (wire/tensor.ts Float32Json); the client receives arrays either way.
const outArrays = <T>(meta: Record<string, unknown>) =>
  z.custom<T[] | Float32Json>((v) => Array.isArray(v) || v instanceof Float32Json, { message: 'expected an array' }).meta(meta);

export const ResultTensorSchema = z
  .union([
    OutNumber,
    outArrays<unknown>({ type: 'array', items: {}, description: 'nested arrays (non-finite elements as null)' }),
    z
      .object({
        shape: z.array(z.number().int()).describe('dimensions, outermost first'),
        data: outArrays<number | null>({ type: 'array', items: { description: OutNumber.description, type: ['number', 'null'] }, description: 'elements in row-major order' }),
      })
      .describe('flat encoding'),
    z
      .object({
        shape: z.array(z.number().int()).describe('dimensions, outermost first'),
        dtype: z.enum(['float32', 'float64']).describe('element type'),
        base64: Base64TextSchema,
      })
      .describe('base64 encoding (non-finite values kept)'),
  ])
  .describe('a tensor in the requested options.encoding');

export const ResultTensorMapSchema = z.record(z.string(), ResultTensorSchema).describe('tensors by name');

export const TimingSchema = z
  .object({
    queueMs: z.number().describe('waiting for a free worker'),
    forwardMs: z.number().describe('forward pass'),
    backwardMs: z.number().describe('backpropagation (and the optimizer step)'),
    totalMs: z.number().describe('the whole request inside the service, decoding and encoding included'),
  })
  .describe('where the time went; also in the Server-Timing header');

export const ComputeTimingSchema = z
  .object({
    queueMs: z.number().describe('waiting for a free worker'),
    computeMs: z.number().describe('the computation inside the worker'),
    totalMs: z.number().describe('the whole request inside the service, decoding and encoding included'),
  })
  .describe('where the time went; also in the Server-Timing header');

export const WarningSchema = z
  .object({
    code: z
      .enum(['vanishing_gradients', 'exploding_gradients', 'dead_units', 'clipped', 'non_finite', 'initialized_params'])
      .describe('kind of warning'),
    message: z.string().describe('explanation'),
    params: z.record(z.string(), z.unknown()).describe('the figures behind it'),
  })
  .describe('a diagnostic warning');

export const DiagnosticsSchema = z
  .object({
    globalGradNorm: OutNumber.describe('L2 norm of all gradients together, before clipping'),
    gradNorms: z.record(z.string(), OutNumber).describe('L2 norm of each parameter\'s gradient'),
    warnings: z
      .array(WarningSchema)
      .describe('vanishing/exploding gradients, dead units, clipping, non-finite values, parameters the service initialized'),
  })
  .describe('gradient health');

export const OptimizerStateSchema = z
  .object({
    step: z.number().int().min(0).describe('optimizer steps taken so far'),
    state: z
      .record(TensorNameSchema, z.record(z.string(), TensorSchema))
      .describe('per parameter, torch.optim\'s buffers by torch\'s names (exp_avg, exp_avg_sq, momentum_buffer, step, ...)'),
  })
  .describe('torch.optim state: send the previous response\'s optimizerState back unchanged');

export const ResultOptimizerStateSchema = z
  .object({
    step: z.number().int().describe('optimizer steps taken so far'),
    state: z
      .record(z.string(), z.record(z.string(), z.union([ResultTensorSchema, z.number()])))
      .describe('per parameter, torch.optim\'s buffers by torch\'s names'),
  })
  .describe('send it back as optimizer.state in the next call');

/**
 * A tensor (an MLP's batch) or a map of tensors (a graph's). z.union tries the tensor first and, when
 * that fails, formats the issues of all its forms before it tries the map: a share of every graph
 * request's event-loop time worth avoiding. Both object forms of a tensor require `shape`, so a value whose `shape`
 * is undefined cannot be one: for it the map is tried first, and only if the map fails does the union
 * run as written. Results and errors are exactly the union's, and so is the JSON Schema.
 */
export function tensorOrMap(description: string) {
  // NOTE: describe() returns a copy, which would not keep the parse below: it comes first
  const union = z.union([TensorSchema, TensorMapSchema]).describe(description);
  const parse = union._zod.parse;
  const mapFirst: typeof parse = (payload, ctx) => {
    const v = payload.value;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && (v as { shape?: unknown }).shape === undefined) {
      const r = TensorMapSchema._zod.run({ value: v, issues: [] }, ctx);
      if (!(r instanceof Promise) && r.issues.length === 0) return r;
    }
    return parse(payload, ctx);
  };
  // a schema without checks runs its parse directly
  if (union._zod.run === parse) union._zod.run = mapFirst;
  union._zod.parse = mapFirst;
  return union;
}

/** The fields of every model-running request (docs/api.md "Models"). */
export const modelFields = {
  model: ModelFieldSchema,
  params: TensorMapSchema.optional().describe(
    'parameter values by name; a parameter left out is initialized from its init spec and seed (deterministic) and returned in `params`',
  ),
  inputs: tensorOrMap('the batch: for an MLP one tensor [batch, inputSize]; for a graph a map {name: tensor} over model.inputs (left out when it has none)').optional(),
  targets: TensorSchema.optional().describe(
    'what the loss compares the output with (cross_entropy: class indices [batch] or probabilities [batch, classes]); needs `loss`',
  ),
  loss: LossSpecSchema.optional().describe('the loss on the output against `targets`; omit both when a graph\'s output is already a scalar loss'),
  outputGrad: TensorSchema.optional().describe(
    'instead of a loss: the upstream gradient dL/d(output), shaped like the output (a vector-Jacobian product)',
  ),
  options: OptionsSchema.prefault({}).describe('what to compute and return; omitted fields take their defaults'),
};

/** The flags of `options` a route may be unable to honour. */
type ReturnFlag = 'returnOutputs' | 'returnIntermediates' | 'inputGradients';

/**
 * A refinement that refuses, at `options.<flag>`, each flag set to true that the route cannot honour
 * (a client asking for outputs it would not get), with where to ask instead; false is accepted, so a
 * /v1/gradients body can be sent as it is.
 */
export const refuseFlags =
  (refused: Partial<Record<ReturnFlag, string>>) =>
  (body: { options: Record<ReturnFlag, boolean> }, ctx: z.core.$RefinementCtx): void => {
    for (const [flag, message] of Object.entries(refused) as [ReturnFlag, string][]) {
      if (body.options[flag]) ctx.addIssue({ code: 'custom', path: ['options', flag], message });
    }
  };

/** loss and targets come together; outputGrad replaces both. */
export function checkLossFields(
  body: { loss?: unknown; targets?: unknown; outputGrad?: unknown },
  ctx: z.core.$RefinementCtx,
): void {
  if (body.loss !== undefined && body.targets === undefined) {
    ctx.addIssue({ code: 'custom', path: ['targets'], message: 'required with `loss`' });
  }
  if (body.targets !== undefined && body.loss === undefined) {
    ctx.addIssue({ code: 'custom', path: ['loss'], message: 'required with `targets`' });
  }
  if (body.outputGrad !== undefined && body.loss !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['outputGrad'], message: 'give either `loss` with `targets`, or `outputGrad`, not both' });
  }
}
