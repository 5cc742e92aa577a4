import type { FastifyPluginAsync } from 'fastify';

/**
 * `GET /` points to the documentation: a browser follows the redirect to Swagger UI, and curl shows
 * where to look. Not part of the API, so not in the OpenAPI document.
 */
export const rootRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .code(302)
      .header('location', '/docs')
      .send({ name: 'gradserve', docs: '/docs', openapi: '/openapi.json', health: '/healthz', ready: '/readyz' }),
  );
};
