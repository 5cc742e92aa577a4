import { PassThrough } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import type { GradientsJob, TrainResult, TrainStep } from '../../engine/api.js';
import { problem } from '../../errors.js';
import { describeLimits } from '../../plugins/docs.js';
import { classify } from '../../plugins/errors.js';
import type { TaskOutcome } from '../../workers/pool.js';
import { finishComputeTiming, limitsOf, runTask } from '../shared/compute.js';
import { encodeMap, encodeState, lossNumber } from '../../wire/answer.js';
import { jsonBody } from '../../wire/json-body.js';
import { preferredAnswer } from '../../wire/accept.js';
import { sendAnswer } from '../../wire/safetensors-body.js';
import { SAFETENSORS } from '../../wire/safetensors.js';
import { decodeModelJob, resolveModel } from '../shared/models.js';
import { TrainBodySchema, TrainResponseSchema, TrainStreamSchema } from './schema.js';

const NDJSON = 'application/x-ndjson';
const TRAIN_ANSWERS = [SAFETENSORS, NDJSON] as const;

export const trainRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  app.post(
    '/v1/train',
    {
      schema: {
        tags: ['compute'],
        operationId: 'train',
        summary: 'A training loop: `steps` optimizer steps, the loss per step, final params and state',
        description:
          'With `Accept: application/x-ndjson` the response streams one JSON line per step as it is taken, then the ' +
          'final object. An error before the first step is an ordinary problem+json response; after streaming began ' +
          'it is the last line, as {"error": problem}. `options` sets `dtype` and `encoding`; `returnOutputs`, ' +
          '`returnIntermediates` and `inputGradients` are refused (400): ask /v1/forward or /v1/gradients with the trained params. ' +
          describeLimits(config),
        body: TrainBodySchema,
        response: {
          200: {
            description: 'the final object, or with Accept: application/x-ndjson a stream of lines',
            content: {
              'application/json': { schema: TrainResponseSchema },
              [NDJSON]: { schema: TrainStreamSchema },
            },
          },
        },
      },
      preValidation: resolveModel(app, limits),
    },
    async (request, reply) => {
      const { steps, batchSize, shuffleSeed } = request.body;
      const job = decodeModelJob(app, request, request.body, limits) as GradientsJob;
      const cfg = { steps, ...(batchSize === undefined ? {} : { batchSize }), ...(shuffleSeed === undefined ? {} : { shuffleSeed }) };
      // safetensors, a stream of NDJSON lines or one JSON answer; safetensors when Accept names both alike
      const answer = preferredAnswer(request.headers.accept, TRAIN_ANSWERS);
      const enc = answer === SAFETENSORS ? 'base64' : request.body.options.encoding;
      const dtype = job.options.dtype;
      const final = ({ result, queueMs, computeMs }: TaskOutcome<TrainResult>) => ({
        losses: result.losses.map((l) => lossNumber(l, dtype)),
        params: encodeMap(result.params, enc),
        optimizerState: encodeState(result.optimizerState, enc),
        warnings: result.warnings,
        timing: finishComputeTiming(reply, queueMs, computeMs),
      });

      // a safetensors client gets the final state alone, as one answer
      if (answer !== NDJSON) {
        return sendAnswer(request, reply, final(await runTask<TrainResult>(app, reply, { kind: 'train', job, limits, config: cfg })));
      }

      const { port1, port2 } = new MessageChannel();
      const lines: string[] = [];
      let stream: PassThrough | null = null;
      let received = 0;
      let onLine = () => {};
      port1.on('message', (s: TrainStep) => {
        const line = `${JSON.stringify({ ...s, loss: lossNumber(s.loss, dtype) })}\n`;
        if (stream) stream.write(line);
        else lines.push(line);
        received++;
        onLine();
      });
      // Steps and the result travel on different ports, so the result may overtake the last steps:
      // resolves once `n` steps have arrived.
      const stepsArrived = (n: number) =>
        new Promise<void>((resolve) => {
          onLine = () => received >= n && resolve();
          onLine();
        });
      const task = runTask<TrainResult>(app, reply, { kind: 'train', job, limits, config: cfg, progress: port2 });
      const settled = task.then(
        (ok) => ({ ok }),
        (err: unknown) => ({ err }),
      );
      const first = await Promise.race([stepsArrived(1).then(() => null), settled]);
      if (first !== null && 'err' in first) {
        port1.close();
        throw first.err; // nothing streamed yet: an ordinary error response
      }

      stream = new PassThrough();
      for (const line of lines) stream.write(line);
      // the zod type provider types send() by the JSON schemas; a stream is written as is
      reply.type(NDJSON).header('cache-control', 'no-store').header('vary', 'accept').send(stream as never);
      const outcome = await settled;
      if ('ok' in outcome) {
        await Promise.race([stepsArrived(outcome.ok.result.losses.length), new Promise((r) => setTimeout(r, 1000).unref())]);
        port1.close();
        stream.end(jsonBody(final(outcome.ok)));
      } else {
        port1.close();
        const c = classify(outcome.err);
        if (c.code === 'INTERNAL') request.log.error({ err: outcome.err }, 'train failed while streaming');
        stream.end(`${JSON.stringify({ error: { ...problem(c.code, c.detail, c.errors, request.url), requestId: request.id } })}\n`);
      }
      return reply;
    },
  );
};
