import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { GradientsResult } from '../../engine/api.js';
import type { AppConfig } from '../../config.js';
import { describeLimits } from '../../plugins/docs.js';
import { finishTiming, limitsOf, runTask } from '../shared/compute.js';
import { encodeMap, encodeState, lossNumber } from '../../wire/answer.js';
import { encodeTensor } from '../../wire/tensor.js';
import { answerEncoding, sendAnswer } from '../../wire/safetensors-body.js';
import { decodeModelJob, resolveModel } from '../shared/models.js';
import { GradientsBodySchema, GradientsResponseSchema } from './schema.js';

export const gradientsRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  app.post(
    '/v1/gradients',
    {
      schema: {
        tags: ['compute'],
        operationId: 'gradients',
        summary: 'Forward pass, backpropagation, optional optimizer step',
        description:
          'Runs the model on the batch, backpropagates the loss (or `outputGrad`) and returns dL/dparam for every ' +
          'parameter; with `optimizer`, also one torch.optim step and its state. ' + describeLimits(config),
        body: GradientsBodySchema,
        response: { 200: GradientsResponseSchema },
      },
      preValidation: resolveModel(app, limits),
    },
    async (request, reply) => {
      const job = decodeModelJob(app, request, request.body, limits);
      const { result, queueMs } = await runTask<GradientsResult>(app, reply, { kind: 'gradients', job, limits });
      const enc = answerEncoding(request, request.body.options.encoding);
      // absent parts are undefined, which the answer's writers leave out as JSON.stringify does
      return sendAnswer(request, reply, {
        loss: result.loss === undefined ? undefined : lossNumber(result.loss, job.options.dtype),
        gradients: encodeMap(result.gradients, enc),
        params: result.params && encodeMap(result.params, enc),
        optimizerState: result.optimizerState && encodeState(result.optimizerState, enc),
        outputs: result.outputs && encodeTensor(result.outputs, enc),
        inputGradients: result.inputGradients && encodeMap(result.inputGradients, enc),
        intermediates:
          result.intermediates &&
          Object.fromEntries(
            Object.entries(result.intermediates).map(([id, { value, grad }]) => [
              id,
              { value: encodeTensor(value, enc), grad: grad === null ? null : encodeTensor(grad, enc) },
            ]),
          ),
        diagnostics: result.diagnostics,
        timing: finishTiming(reply, { queueMs, ...result.timing }),
      });
    },
  );
};
