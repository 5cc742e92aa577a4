import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPS } from '../../engine/ops/index.js';
import { OpsResponseSchema } from './schema.js';

type OpInfo = z.infer<typeof OpsResponseSchema>['ops'][number];

/** Built once: the registry is fixed for the life of the process. */
function listOps(): OpInfo[] {
  return [...OPS.values()]
    .map((op) => ({
      name: op.name,
      minArity: op.minArity,
      maxArity: op.maxArity,
      summary: op.summary,
      derivative: op.derivative,
      nonDifferentiable: [...(op.nonDifferentiable ?? [])],
      attrs: op.attrs
        ? (z.toJSONSchema(op.attrs, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>)
        : { type: 'object', properties: {}, additionalProperties: false },
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  const ops = listOps();
  app.get(
    '/v1/ops',
    {
      schema: {
        tags: ['reference'],
        operationId: 'listOps',
        summary: 'Every graph op: arity, attributes (JSON Schema) and local derivative',
        response: { 200: OpsResponseSchema },
      },
    },
    async () => ({ ops }),
  );
};
