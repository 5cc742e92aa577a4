import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { ForwardResult } from '../../engine/api.js';
import { encodeTensor } from '../../wire/tensor.js';
import { encodeMap, lossNumber } from '../../wire/answer.js';
import { describeLimits } from '../../plugins/docs.js';
import { finishTiming, limitsOf, runTask } from '../shared/compute.js';
import { answerEncoding, sendAnswer } from '../../wire/safetensors-body.js';
import { decodeModelJob, resolveModel } from '../shared/models.js';
import { ForwardBodySchema, ForwardResponseSchema } from './schema.js';

export const forwardRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  app.post(
    '/v1/forward',
    {
      schema: {
        tags: ['compute'],
        operationId: 'forward',
        summary: 'Forward pass only: loss and outputs',
        description:
          'The body of /v1/gradients without optimizer; nothing is backpropagated. The outputs are always answered; ' +
          '`options.inputGradients` is refused (400), `options.diagnostics` has nothing to report. ' +
          describeLimits(config),
        body: ForwardBodySchema,
        response: { 200: ForwardResponseSchema },
      },
      preValidation: resolveModel(app, limits),
    },
    async (request, reply) => {
      const job = decodeModelJob(app, request, request.body, limits);
      const { result, queueMs } = await runTask<ForwardResult>(app, reply, { kind: 'forward', job, limits });
      const enc = answerEncoding(request, request.body.options.encoding);
      return sendAnswer(request, reply, {
        ...(result.loss === undefined ? {} : { loss: lossNumber(result.loss, job.options.dtype) }),
        outputs: encodeTensor(result.outputs, enc),
        intermediates: result.intermediates && encodeMap(result.intermediates, enc),
        timing: finishTiming(reply, { queueMs, ...result.timing }),
      });
    },
  );
};
