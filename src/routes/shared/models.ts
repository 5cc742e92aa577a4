import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { DecodedModel, Limits } from '../../engine/api.js';
import type { DType } from '../../engine/tensor.js';
import { checkModel, type ModelSummary } from '../../engine/check-model.js';
import { LimitError, SpecError } from '../../engine/errors.js';
import { OPS } from '../../engine/ops/index.js';
import { ModelSpecSchema, type ModelSpec } from '../../wire/spec.js';
import { HttpError } from '../../errors.js';
import { canonicalJson, jsonText, KnownModel, MODEL_ID, modelId } from '../../plugins/models.js';
import { leadingModelText, liftedText } from '../../wire/json-body.js';
import { importForCheck } from '../../wire/onnx/model.js';
import { decodeModelRequest, TensorPlan, type ModelBody, type OptimizerBody } from '../../wire/request.js';
import { holdsModelTensors } from '../../wire/safetensors-body.js';

// How the compute routes find their model in the replica's cache (plugins/models.ts): by `{ref}`, or
// by the content of an inline spec, before the schema runs, so a known model skips it.

/** An inline spec not known yet, by request: the handler makes it known once the schema passed it. */
const unknownInline = new WeakMap<FastifyRequest, { id: string; canonical: string; text?: string }>();

/** `path`: where a compute request named the model (`model.ref`) */
export function modelNotFound(id: string, path?: string): HttpError {
  const detail = `no model ${id} on this instance (never registered here, evicted, or the instance restarted): register it again with POST /v1/models and retry`;
  return new HttpError('MODEL_NOT_FOUND', detail, path === undefined ? [] : [{ path, message: `no model ${id} on this instance` }]);
}

/**
 * preValidation of the compute routes: puts the KnownModel in place of a known ref or spec. With a
 * callback, not async: every compute request runs it, and a promise would cost it a microtask turn
 * (only a ref another process of the replica registered waits, once, for the primary: cluster.ts).
 * `limits`: the service's, which registered models were checked against.
 */
export function resolveModel(app: FastifyInstance, limits: Limits) {
  const resolve = findModel(app, limits);
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    let pending: Promise<void> | undefined;
    try {
      pending = resolve(request);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (pending === undefined) done();
    else pending.then(() => done(), done);
  };
}

/** by app, the refs this process is asking the primary for: requests that arrive meanwhile wait for the same answer */
const asking = new WeakMap<FastifyInstance, Map<string, Promise<KnownModel | undefined>>>();

/**
 * A model another process of this replica registered (cluster.ts), made known here; undefined when
 * none did. The primary holds its canonical text: validated and checked again here, once, however many
 * requests for it arrive before the primary answers.
 */
export function sharedModel(app: FastifyInstance, id: string, limits: Limits): Promise<KnownModel | undefined> {
  let pending = asking.get(app);
  if (pending === undefined) asking.set(app, (pending = new Map()));
  let known = pending.get(id);
  if (known === undefined) {
    const all = pending;
    known = askPrimary(app, id, limits).finally(() => all.delete(id));
    pending.set(id, known);
  }
  return known;
}

async function askPrimary(app: FastifyInstance, id: string, limits: Limits): Promise<KnownModel | undefined> {
  const canonical = await app.models.shared?.get(id);
  if (canonical == null) return undefined;
  const known = knowModel(id, canonical, ModelSpecSchema.parse(JSON.parse(canonical)), limits);
  app.models.add(known);
  return known;
}

function findModel(app: FastifyInstance, limits: Limits) {
  return (request: FastifyRequest): Promise<void> | undefined => {
    const body = request.body as { model?: unknown } | null;
    const model = body !== null && typeof body === 'object' ? body.model : undefined;
    // a known spec found by its text as the body was parsed (wire/json-body.ts)
    if (model === null || typeof model !== 'object' || Array.isArray(model) || model instanceof KnownModel) return;
    if ('ref' in model) {
      const ref = (model as { ref: unknown }).ref;
      // a malformed ref is left to the schema, which names the field
      if (typeof ref !== 'string' || !MODEL_ID.test(ref) || Object.keys(model).length !== 1) return;
      const known = app.models.get(ref);
      if (known !== undefined) {
        body!.model = known;
        return;
      }
      if (app.models.shared === null) throw modelNotFound(ref, 'model.ref');
      return sharedModel(app, ref, limits).then((shared) => {
        if (shared === undefined) throw modelNotFound(ref, 'model.ref');
        body!.model = shared;
      });
    }
    // a model whose own tensors come in a safetensors body's data holds placeholders until validated:
    // its JSON is not its content, so it is not looked up (nor kept)
    if (holdsModelTensors(request)) return;
    // long base64 values lifted out of the body are placeholders too: hashed as the text they stand for
    const restore = liftedText(request);
    // the text as the client wrote it finds a spec it sent before without the canonical form and the hash
    // (and once known, before the body is parsed: JSON.stringify's text of it stands in for a body that
    // does not open with its spec). The parser looked up the text a body opens with already.
    const leading = leadingModelText(request);
    const text = restore === undefined ? (leading ?? jsonText(model)) : undefined;
    const seen = text === undefined || leading !== undefined ? undefined : app.models.getByText(text);
    if (seen !== undefined) {
      body!.model = seen;
      return;
    }
    const canonical = canonicalJson(model, restore);
    if (canonical === undefined) return;
    const id = modelId(canonical);
    const known = app.models.get(id);
    if (known === undefined) {
      unknownInline.set(request, { id, canonical, text });
      return;
    }
    body!.model = known;
    if (text !== undefined) app.models.addText(known, text);
  };
}

/** The spec with its constants decoded (float64), as the engine's checks take it. */
export function decodeConstants(spec: ModelSpec, limits: Limits): DecodedModel {
  if (spec.type === 'mlp') return spec;
  if (spec.type === 'onnx') return importForCheck(spec, limits);
  const plan = new TensorPlan();
  plan.addMap(spec.constants, ['model', 'constants']);
  const decoded = plan.decode('float64', limits);
  return { ...spec, constants: Object.fromEntries(Object.entries(spec.constants).map(([k, w]) => [k, decoded.get(w)!])) };
}

/** Checks and summarizes `spec` once (engine/check-model.ts): what becomes a KnownModel. */
export function knowModel(id: string, canonical: string, spec: ModelSpec, limits: Limits): KnownModel {
  const summary: ModelSummary = checkModel(decodeConstants(spec, limits), limits, OPS);
  return new KnownModel(id, canonical, spec, summary);
}

type Body = Omit<ModelBody, 'model'> & { model: ModelSpec | KnownModel; optimizer?: OptimizerBody; clipGradNorm?: number };

/**
 * A body whose tensors are read in float64, for the routes that compute in float64 whatever
 * `options.dtype` says (explain, gradcheck): read in float32 first, 0.3 would be explained and checked
 * as 0.30000001192092896.
 */
export const readInFloat64 = <B extends { options: { dtype: DType } }>(body: B): B => ({ ...body, options: { ...body.options, dtype: 'float64' } });

/**
 * The request's job (wire/request.ts), carrying the model's id when it is known, so the worker reuses
 * its compiled plan. An inline spec seen for the first time becomes known here if it passes the
 * model checks; if not, it is not kept and the worker reports its problems as it always did.
 * The job carries the spec: the pool leaves it out of the small jobs whose tensors it copies, which it
 * can send again whole if their worker holds no plan (workers/pool.ts); a large job's tensors are moved
 * to its worker and could not go twice.
 */
export function decodeModelJob(app: FastifyInstance, request: FastifyRequest, body: Body, limits: Limits) {
  let known = body.model instanceof KnownModel ? body.model : undefined;
  const inline = unknownInline.get(request);
  if (known === undefined && inline !== undefined) {
    try {
      known = knowModel(inline.id, inline.canonical, body.model as ModelSpec, limits);
      if (app.models.add(known) && inline.text !== undefined) app.models.addText(known, inline.text);
    } catch (err) {
      if (!(err instanceof SpecError || err instanceof LimitError)) throw err;
    }
  }
  const job = decodeModelRequest({ ...body, model: known?.spec ?? (body.model as ModelSpec) }, limits);
  if (known !== undefined) job.modelId = known.id;
  return job;
}
