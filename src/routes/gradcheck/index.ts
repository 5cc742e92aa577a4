import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { GradcheckResult } from '../../engine/index.js';
import { describeLimits } from '../../plugins/docs.js';
import { finishComputeTiming, limitsOf, runTask } from '../shared/compute.js';
import { decodeModelRequest } from '../../wire/request.js';
import { sendAnswer } from '../../wire/safetensors-body.js';
import { GradcheckBodySchema, GradcheckResponseSchema } from './schema.js';

export const gradcheckRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  app.post(
    '/v1/gradcheck',
    {
      schema: {
        tags: ['compute'],
        operationId: 'gradcheck',
        summary: 'Backpropagation against central finite differences, in float64',
        description:
          'Per parameter, the largest absolute and relative error between backpropagation and ' +
          '(L(p + h) − L(p − h)) / 2h over up to maxElementsPerParam elements, and whether it passed. ' + describeLimits(config),
        body: GradcheckBodySchema,
        response: { 200: GradcheckResponseSchema },
      },
    },
    async (request, reply) => {
      const job = decodeModelRequest(request.body, limits);
      const { result, queueMs, computeMs } = await runTask<GradcheckResult>(app, reply, {
        kind: 'gradcheck',
        job,
        config: request.body.gradcheck,
        limits,
      });
      return sendAnswer(request, reply, { ...result, timing: finishComputeTiming(reply, queueMs, computeMs) });
    },
  );
};
