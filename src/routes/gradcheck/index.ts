import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { GradcheckResult } from '../../engine/index.js';
import { describeLimits } from '../../plugins/docs.js';
import { finishComputeTiming, limitsOf, runTask } from '../shared/compute.js';
import { sendAnswer } from '../../wire/safetensors-body.js';
import { decodeModelJob, readInFloat64, resolveModel } from '../shared/models.js';
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
          '(L(p + h) − L(p − h)) / 2h over up to maxElementsPerParam elements, whether it passed, and the worst ' +
          'element with its index and both values (with a hint when it sits at a kink such as relu at 0). ' + describeLimits(config),
        body: GradcheckBodySchema,
        response: { 200: GradcheckResponseSchema },
      },
      preValidation: resolveModel(app, limits),
    },
    async (request, reply) => {
      const job = decodeModelJob(app, request, readInFloat64(request.body), limits);
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
