import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppConfig } from '../../config.js';
import { LimitError, overLimit, SpecError, type Path } from '../../engine/errors.js';
import { HttpError } from '../../errors.js';
import { canonicalJson, modelId, type KnownModel } from '../../plugins/models.js';
import { liftedText } from '../../wire/json-body.js';
import { checkModelSize } from '../../wire/request.js';
import { limitsOf } from '../shared/compute.js';
import { knowModel, modelNotFound, sharedModel } from '../shared/models.js';
import { ModelAnswerSchema, ModelParamsSchema, ModelWithSpecSchema, RegisterBodySchema } from './schema.js';

// Content-addressed models (docs/models.md): registered once, then named by id in compute requests.

const answer = (m: KnownModel) => ({ id: m.id, hash: m.id.slice('sha256:'.length), summary: m.summary });

/** The engine names a model's fields from the compute body ("model.nodes[3]"); here the model is the body. */
const inBody = (path: Path): Path => (path[0] === 'model' ? path.slice(1) : path);

/**
 * A check's error as registering words it: paths in the body, and no batch to split when the model's
 * own parameters and constants are over MAX_ELEMENTS.
 */
function asRegistering(err: unknown): unknown {
  if (err instanceof SpecError) return new SpecError(err.issues.map((i) => ({ ...i, path: inBody(i.path) })));
  if (!(err instanceof LimitError)) return err;
  const b = err.bound;
  if (b === undefined) return new LimitError(inBody(err.path), err.reason);
  const advice = b.variable === 'MAX_ELEMENTS' ? 'use smaller parameters, or start the service with a larger MAX_ELEMENTS' : undefined;
  return overLimit(inBody(err.path), b.what, b.limit, b.variable, advice);
}

export const modelsRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const limits = limitsOf(config);
  // the spec as sent, before the schema fills in its defaults: what the id is the hash of
  const sent = new WeakMap<FastifyRequest, string>();

  app.post(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        operationId: 'registerModel',
        summary: 'Register a model: validated and checked once, then used by id',
        description:
          'Takes a model spec (the `model` of the compute routes), checks it as far as it can without data (ids, ops, ' +
          'attributes, references, cycles, the shapes that follow from params and constants) and keeps it on this replica ' +
          'under its id, the sha256 of its canonical JSON. Compute requests then send `"model": {"ref": id}` and skip the ' +
          'model\'s validation; send the id in the `X-Gradserve-Model` header too, so a balancer routes them to this replica. ' +
          'A replica keeps MODEL_CACHE_ENTRIES models (MODEL_CACHE_MB), least recently used first out; a request naming a ' +
          'model the replica does not know gets 404 MODEL_NOT_FOUND: register it again and retry (docs/models.md).',
        body: RegisterBodySchema,
        response: {
          200: ModelAnswerSchema.describe('already known: the same id'),
          201: ModelAnswerSchema.describe('registered'),
        },
      },
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null;
        // the compute routes' shape, {"model": spec, ...}, sent here: the schema alone would say `type: required`
        if (typeof body === 'object' && body !== null && 'model' in body && !('type' in body)) {
          throw new HttpError('INVALID_REQUEST', 'the body is the model spec itself, not {"model": spec}: send the value of `model`', [
            { path: 'model', message: 'send this value as the whole body' },
          ]);
        }
        try {
          checkModelSize({ model: request.body }, limits);
        } catch (err) {
          throw asRegistering(err);
        }
        const canonical = canonicalJson(request.body, liftedText(request));
        if (canonical !== undefined) sent.set(request, canonical);
      },
    },
    async (request, reply) => {
      const canonical = sent.get(request);
      if (canonical === undefined) throw new HttpError('INVALID_REQUEST', 'the model is nested too deeply');
      const id = modelId(canonical);
      const known = app.models.get(id);
      if (known !== undefined) {
        await app.models.shared?.put(id, canonical);
        return reply.code(200).send(answer(known));
      }
      // another process of this replica registered it (cluster.ts): known already, as far as the client sees
      const elsewhere = (await app.models.shared?.get(id)) != null;
      let model: KnownModel;
      try {
        model = knowModel(id, canonical, request.body, limits);
      } catch (err) {
        throw asRegistering(err);
      }
      if (!app.models.add(model)) {
        throw new LimitError([], `the model holds about ${model.bytes} bytes, more than this instance keeps (MODEL_CACHE_MB)`);
      }
      await app.models.shared?.put(id, canonical);
      if (!elsewhere) reply.header('location', `/v1/models/${id}`);
      return reply.code(elsewhere ? 200 : 201).send(answer(model));
    },
  );

  app.get(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        operationId: 'getModel',
        summary: 'A known model: its spec and summary',
        params: ModelParamsSchema,
        response: { 200: ModelWithSpecSchema },
      },
    },
    async (request) => {
      const m = app.models.peek(request.params.id) ?? (await sharedModel(app, request.params.id, limits));
      if (m === undefined) throw modelNotFound(request.params.id);
      return { ...answer(m), spec: JSON.parse(m.canonical) as unknown };
    },
  );

  app.delete(
    '/v1/models/:id',
    {
      schema: {
        tags: ['models'],
        operationId: 'deleteModel',
        summary: 'Forget a model on this replica',
        description: 'Requests in flight that named it finish normally; later ones get 404 MODEL_NOT_FOUND (in every process of the replica).',
        params: ModelParamsSchema,
        response: { 204: z.null().describe('forgotten; no body') },
      },
    },
    async (request, reply) => {
      const here = app.models.delete(request.params.id);
      // the workers' plans outlive an evicted spec: dropped whether or not it was still known here
      app.pool.forgetModel?.(request.params.id);
      const elsewhere = (await app.models.shared?.delete(request.params.id)) ?? false;
      if (!here && !elsewhere) throw modelNotFound(request.params.id);
      return reply.code(204).send(null);
    },
  );
};
