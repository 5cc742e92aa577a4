import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { AppConfig } from '../config.js';
import { RequestValidationError } from './errors.js';
import { jsonBody } from '../wire/json-body.js';

// zod is the single source of the request/response contract: it validates bodies, and
// @fastify/swagger turns the same schemas into the OpenAPI 3.1 document shown at /docs.

/** Like the type provider's compiler, but keeps zod's issue paths for problem+json `errors`. */
const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const r = schema.safeParse(data);
    return r.success ? { value: r.data } : { error: new RequestValidationError(r.error.issues) };
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

const transformObject: typeof jsonSchemaTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as { components?: { schemas?: unknown } };
  if (doc.components?.schemas) doc.components.schemas = keepRefSiblings(doc.components.schemas);
  return doc as ReturnType<typeof jsonSchemaTransformObject>;
};

/**
 * The response schemas describe the JSON a client receives, where JSON.stringify has written NaN and
 * ±Infinity as null; so the check runs on that form, not on the numbers before serialization.
 */
const wireSerializerCompiler: typeof serializerCompiler = (route) => {
  const serialize = serializerCompiler(route);
  return (data) => serialize(JSON.parse(JSON.stringify(data)));
};

export function describeLimits(config: AppConfig): string {
  const mb = (config.bodyLimitBytes / (1024 * 1024)).toFixed(0);
  return [
    `Limits in force (environment variable, value): body ${mb} MiB (BODY_LIMIT_MB),`,
    `${config.maxElements} tensor elements per request, activations included (MAX_ELEMENTS),`,
    `${config.maxNodes} graph nodes (MAX_NODES), ${config.timeoutMs} ms per computation (TIMEOUT_MS),`,
    `${config.queueLimit} computations queued (QUEUE_LIMIT). GET /readyz reports the same figures.`,
  ].join(' ');
}

const DESCRIPTION = `Gradients as a service: forward pass, backpropagation and torch.optim-exact optimizer steps
for user-supplied computational graphs and MLPs. Every compute route is stateless: everything a call needs is in
its body, everything the next call needs is in its response. Tensors may be written nested ([[1, 2], [3, 4]]),
flat ({"shape", "data"}) or base64 ({"shape", "dtype", "base64"}); responses use options.encoding.
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
        version: '1.0.0',
        description: `${DESCRIPTION}\n\n${describeLimits(config)}`,
      },
      tags: [
        { name: 'compute', description: 'forward pass, backpropagation, optimizer steps' },
        { name: 'models', description: 'models registered once and then named by id (docs/models.md)' },
        { name: 'reference', description: 'what the service can compute' },
        { name: 'operations', description: 'health, readiness, metrics' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'One of the API_KEYS; required on /v1 routes only when the service is started with API_KEYS.',
          },
        },
      },
    },
    transform,
    transformObject,
  });

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

export default fp(docsPlugin, { name: 'gradserve-docs' });
