import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { Limits } from '../../engine/api.js';
import { LimitError } from '../../engine/errors.js';
import { EXPLAIN_LIMITS, type ExplainResult } from '../../engine/index.js';
import { finishComputeTiming, limitsOf, runTask } from '../shared/compute.js';
import { sendAnswer } from '../../wire/safetensors-body.js';
import { decodeModelJob, readInFloat64, resolveModel } from '../shared/models.js';
import { ExplainBodySchema, ExplainResponseSchema } from './schema.js';

export const explainRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const service = limitsOf(config);
  // explain's own, tighter limits apply from the start: no point decoding what it will refuse
  const limits = {
    maxNodes: Math.min(service.maxNodes, EXPLAIN_LIMITS.maxNodes),
    maxElements: Math.min(service.maxElements, EXPLAIN_LIMITS.maxElements),
  };
  app.post(
    '/v1/explain',
    {
      schema: {
        tags: ['compute'],
        operationId: 'explain',
        summary: 'The chain rule, written out for a small graph',
        description:
          'Nodes in topological order with value, adjoint dL/dnode and the local derivative of each input edge; for ' +
          'scalar graphs every parameter\'s gradient as a sum over paths of products of local derivatives; the graph ' +
          `in Graphviz DOT. Computed in float64. Limits: ${limits.maxNodes} nodes, ${limits.maxElements} elements, ` +
          `${EXPLAIN_LIMITS.maxJacobianEntries} Jacobian entries (413 beyond).`,
        body: ExplainBodySchema,
        response: { 200: ExplainResponseSchema },
      },
      preValidation: resolveModel(app, service),
    },
    async (request, reply) => {
      try {
        const job = decodeModelJob(app, request, readInFloat64(request.body), limits);
        const { result, queueMs, computeMs } = await runTask<ExplainResult>(app, reply, { kind: 'explain', job, limits });
        return sendAnswer(request, reply, { ...result, timing: finishComputeTiming(reply, queueMs, computeMs) });
      } catch (err) {
        throw ownLimit(err, service);
      }
    },
  );
};

/**
 * A size error against explain's own limit, said as such: the service-wide message would name
 * MAX_NODES or MAX_ELEMENTS and advise raising it, which cannot help here.
 */
function ownLimit(err: unknown, service: Limits): unknown {
  const bound = err instanceof LimitError ? err.bound : undefined;
  if (bound === undefined) return err;
  const nodes = bound.variable === 'MAX_NODES';
  const own = nodes ? EXPLAIN_LIMITS.maxNodes : EXPLAIN_LIMITS.maxElements;
  if (bound.limit !== own || own >= (nodes ? service.maxNodes : service.maxElements)) return err;
  const reason = `${bound.what}, over explain's limit of ${own} ${nodes ? 'nodes' : 'elements'}: explain writes out every value and local derivative, so it takes small graphs only; /v1/gradients and /v1/gradcheck take this one`;
  return new LimitError((err as LimitError).path, reason);
}
