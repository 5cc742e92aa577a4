import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { StepResult } from '../../engine/api.js';
import { describeLimits } from '../../plugins/docs.js';
import { finishComputeTiming, limitsOf, runTask } from '../shared/compute.js';
import { decodeStepRequest } from '../../wire/request.js';
import { encodeMap, encodeState } from '../../wire/answer.js';
import { answerEncoding, sendAnswer } from '../../wire/safetensors-body.js';
import { StepBodySchema, StepResponseSchema } from './schema.js';

export const stepRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  app.post(
    '/v1/step',
    {
      schema: {
        tags: ['compute'],
        operationId: 'step',
        summary: 'The optimizer alone: params + gradients + state → new params + state',
        description:
          'For gradients computed elsewhere or summed across replicas (data parallelism). Clipping, when asked, ' +
          'comes before the step, as torch.nn.utils.clip_grad_norm_. ' + describeLimits(config),
        body: StepBodySchema,
        response: { 200: StepResponseSchema },
      },
    },
    async (request, reply) => {
      const job = decodeStepRequest(request.body, limits);
      const { result, queueMs, computeMs } = await runTask<StepResult>(app, reply, { kind: 'step', job });
      const enc = answerEncoding(request, request.body.options.encoding);
      return sendAnswer(request, reply, {
        params: encodeMap(result.params, enc),
        optimizerState: encodeState(result.optimizerState, enc),
        ...(result.diagnostics ? { diagnostics: result.diagnostics } : {}),
        timing: finishComputeTiming(reply, queueMs, computeMs),
      });
    },
  );
};
