import { z } from 'zod';

export const OpInfoSchema = z
  .object({
    name: z.string().describe('the op name used in graph nodes'),
    minArity: z.number().int().describe('fewest inputs'),
    maxArity: z.number().int().describe('most inputs (optional trailing inputs, e.g. linear\'s bias)'),
    summary: z.string().describe('what the op computes'),
    derivative: z.string().describe('its local derivative, written out'),
    nonDifferentiable: z.array(z.number().int()).describe('inputs that take no gradient (e.g. integer class targets), by index'),
    attrs: z
      .record(z.string(), z.unknown())
      .describe('JSON Schema of `attrs` (properties with PyTorch defaults); {"type": "object"} with no properties when the op has none'),
  })
  .describe('one op of the registry');

export const OpsResponseSchema = z
  .object({
    ops: z.array(OpInfoSchema).describe('every op, by name'),
  })
  .describe('the op set a graph may use');
