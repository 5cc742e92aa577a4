import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler } from 'fastify-type-provider-zod';
import { ZodError, type z } from 'zod';
import type { AppConfig } from '../config.js';
import { RequestValidationError } from './errors.js';
import { collectExamples, finishDocument, packageVersion } from './openapi-document.js';
import { jsonBody } from '../wire/json-body.js';
import { SAFETENSORS } from '../wire/safetensors.js';

// zod is the single source of the request/response contract: it validates bodies, and
// @fastify/swagger turns the same schemas into the OpenAPI 3.1 document shown at /docs.

/**
 * Like the type provider's compiler, but keeps zod's issue paths for problem+json `errors`.
 * NOTE: parse and catch, not safeParse: a failed safeParse answers an object literal with a getter,
 * which keeps what it found alive until a full collection (routes/shared/compute.ts ClientGone).
 */
const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    try {
      return { value: schema.parse(data) };
    } catch (err) {
      if (err instanceof ZodError) return { error: new RequestValidationError(err.issues) };
      throw err;
    }
  };

/**
 * @fastify/swagger drops every keyword next to a $ref (an OpenAPI 3.0 rule), which would lose the
 * field descriptions of fields typed by a shared component. `allOf: [{$ref}]` keeps them, in 3.1 too.
 */
function keepRefSiblings(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keepRefSiblings);
  if (v === null || typeof v !== 'object') return v;
  const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, keepRefSiblings(x)]));
  if (typeof o.$ref !== 'string' || Object.keys(o).length === 1) return o;
  const { $ref, ...rest } = o;
  return { allOf: [{ $ref }], ...rest };
}

const transform: typeof jsonSchemaTransform = (input) => {
  const out = jsonSchemaTransform(input);
  return { ...out, schema: keepRefSiblings(out.schema) as typeof out.schema };
};

const SAFETENSORS_BODY =
  'A safetensors file (docs/binary.md): an 8-byte little-endian header length N, N bytes of JSON header ' +
  '{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {"json": ...}}, then the tensors\' raw ' +
  'little-endian bytes. `__metadata__.json` is this route\'s JSON body without its tensors; each tensor is named by its ' +
  'JSON path joined with "/": `inputs` (an MLP) or `inputs/<name>` (a graph), `targets`, `outputGrad`, `params/<param>`, ' +
  '`gradients/<param>` (/v1/step), `model/constants/<name>`, `model/bytes` (an ONNX file, U8), `optimizer/state/state/<param>/<buffer>`. A tensor may ' +
  'instead stay in the JSON in any JSON encoding; given both ways it is a 400. dtypes: F32, F64; I64 and I32 (class ' +
  'indices, exact up to ±2^53); F16 and BF16, widened exactly to float32. Without `options.dtype`, a body whose float ' +
  'tensors are all F64 computes in float64. Errors are problem+json naming the tensor (`params/layers.0.weight`).';

const SAFETENSORS_ANSWER =
  'With `Accept: ' + SAFETENSORS + '`: a safetensors file. Its tensors are the answer\'s, named by their JSON path ' +
  'joined with "/" (`gradients/<param>`, `params/<param>`, `optimizerState/state/<param>/<buffer>`, `outputs`, ' +
  '`inputGradients/<input>`, `intermediates/<id>/value`, `intermediates/<id>/grad`), F32 or F64 as computed; ' +
  '`__metadata__.json` is the rest of the JSON answer (loss, diagnostics, timing, optimizerState.step, ...). ' +
  '/v1/train answers its final state this way, without a stream; /v1/gradcheck and /v1/explain have no tensors.';

const binary = (description: string) => ({ schema: { type: 'string', format: 'binary', description } });

/** Every compute route takes and gives safetensors besides JSON (wire/safetensors-body.ts); JSON stays first for Swagger UI. */
function addSafetensors(paths: Record<string, Record<string, { tags?: string[]; requestBody?: { content: object }; responses?: Record<string, { content?: object }> }>>): void {
  for (const path of Object.values(paths)) {
    for (const op of Object.values(path)) {
      if (!op.tags?.includes('compute') || !op.requestBody) continue;
      op.requestBody.content = { ...op.requestBody.content, [SAFETENSORS]: binary(SAFETENSORS_BODY) };
      const ok = op.responses?.['200'];
      if (ok) ok.content = { ...ok.content, [SAFETENSORS]: binary(SAFETENSORS_ANSWER) };
    }
  }
}

const transformObject: typeof jsonSchemaTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as { components?: { schemas?: unknown }; paths?: Parameters<typeof addSafetensors>[0] };
  if (doc.components?.schemas) doc.components.schemas = keepRefSiblings(doc.components.schemas);
  if (doc.paths) addSafetensors(doc.paths);
  return doc as ReturnType<typeof jsonSchemaTransformObject>;
};

/**
 * The response schemas describe the JSON a client receives, where JSON.stringify has written NaN and
 * ±Infinity as null; so the check runs on that form, not on the numbers before serialization.
 */
const wireSerializerCompiler: typeof serializerCompiler = (route) => {
  const serialize = serializerCompiler(route);
  return (data) => `${serialize(JSON.parse(JSON.stringify(data)))}\n`;
};

export function describeLimits(config: AppConfig): string {
  const mb = (config.bodyLimitBytes / (1024 * 1024)).toFixed(0);
  return [
    `Limits in force (environment variable, value): body ${mb} MiB (BODY_LIMIT_MB),`,
    `${config.maxElements} tensor elements per request, activations included (MAX_ELEMENTS),`,
    `${config.maxNodes} graph nodes (MAX_NODES), ${config.timeoutMs} ms per computation (TIMEOUT_MS),`,
    `an estimated ${config.flopBudget / 1e9} GFLOP per request, refused up front past it (FLOP_BUDGET),`,
    `${config.queueLimit} computations queued (QUEUE_LIMIT). GET /readyz reports the same figures.`,
  ].join(' ');
}

const DESCRIPTION = `Gradients as a service: forward pass, backpropagation and torch.optim-exact optimizer steps
for user-supplied computational graphs and MLPs. Every compute route is stateless: everything a call needs is in
its body, everything the next call needs is in its response. Tensors may be written nested ([[1, 2], [3, 4]]),
flat ({"shape", "data"}) or base64 ({"shape", "dtype", "base64"}); responses use options.encoding. For large tensors,
send and accept ${SAFETENSORS} instead (a standard safetensors file; its layout is under each compute route).
Errors are application/problem+json (RFC 9457) with field paths in \`errors\`.`;

async function docsPlugin(app: FastifyInstance, config: AppConfig): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  // Our own responses are trusted in production (a schema check on every tensor costs time);
  // tests check every response against its schema.
  if (config.validateResponses) app.setSerializerCompiler(wireSerializerCompiler);
  // NOTE: a Buffer where Fastify's type says string: Fastify sends either as it is (reply.js)
  else app.setSerializerCompiler(() => (data) => jsonBody(data) as string);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gradserve',
        version: packageVersion(),
        description: `${DESCRIPTION}\n\n${describeLimits(config)}`,
      },
      tags: [
        { name: 'compute', description: 'forward pass, backpropagation, optimizer steps' },
        { name: 'models', description: 'models registered once and then named by id (docs/models.md)' },
        { name: 'reference', description: 'what the service can compute' },
        { name: 'operations', description: 'health, readiness, metrics' },
      ],
    },
    transform,
    transformObject,
  });

  // The finished document needs the app's answers to its examples, so it is made on the first
  // request for it (the app is ready then), once.
  let finished: Record<string, unknown> | undefined;
  let making: Promise<Record<string, unknown>> | undefined;
  const document = async () => {
    making ??= (async () => {
      const built = app.swagger() as unknown as Record<string, any>;
      finished = finishDocument(built, config, await collectExamples(app, built, config));
      return finished;
    })();
    return making;
  };

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
    uiHooks: { preHandler: async () => void (await document()) },
    transformSpecification: () => finished!,
    transformSpecificationClone: false,
    // the top bar's URL field and the link under the title show /docs/json, which only confuses
    theme: {
      css: [{ filename: 'gradserve.css', content: '.swagger-ui .topbar .download-url-wrapper, .swagger-ui .info hgroup.main > a { display: none; }' }],
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, document);
}

export default fp(docsPlugin, { name: 'gradserve-docs' });
