import { z } from 'zod';
import { InitSpecSchema } from '../../engine/init/index.js';
import { LossSpecSchema, MlpSpecSchema } from '../../engine/spec.js';
import { GraphSpecSchema, ModelSpecSchema, OptionsSchema } from '../../wire/spec.js';
import { TensorSchema } from '../../wire/tensor.js';
import { OptimizerRequestSchema } from '../gradients/schema.js';
import { ModelRefSchema } from '../models/schema.js';
import {
  DiagnosticsSchema,
  ProblemSchema,
  ResultOptimizerStateSchema,
  ResultTensorSchema,
} from './schema.js';

// Names for the schemas that recur across routes, so the OpenAPI document refers to one component
// (#/components/schemas/Tensor) instead of repeating it in every route. Request-side components get
// an "Input" suffix from fastify-type-provider-zod.

function name(schema: z.ZodType, id: string): void {
  const reg = z.globalRegistry;
  const prev = reg._idmap.get(id);
  if (prev === schema) return;
  // a module evaluated again (test isolation) leaves its old schema under the id: replace it
  if (prev) reg.remove(prev);
  reg.add(schema, { ...reg.get(schema), id });
}

export function nameComponents(): void {
  name(TensorSchema, 'Tensor');
  name(ModelSpecSchema, 'Model');
  name(ModelRefSchema, 'ModelRef');
  name(MlpSpecSchema, 'MlpModel');
  name(GraphSpecSchema, 'GraphModel');
  name(InitSpecSchema, 'Init');
  name(LossSpecSchema, 'Loss');
  name(OptionsSchema, 'Options');
  name(OptimizerRequestSchema, 'Optimizer');
  name(ResultTensorSchema, 'ResultTensor');
  name(ResultOptimizerStateSchema, 'OptimizerState');
  name(DiagnosticsSchema, 'Diagnostics');
  name(ProblemSchema, 'Problem');
}
