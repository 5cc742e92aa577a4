// The bare Fastify baseline of the small-request scenario: it parses the same JSON body with Fastify's
// own parser and answers the bytes gradserve gave for it (read from BARE_RESPONSE_FILE), nothing else.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const answer = readFileSync(process.env.BARE_RESPONSE_FILE!, 'utf8');
const app = Fastify();
app.get('/readyz', async () => ({ ready: true }));
app.post('/v1/gradients', async (request, reply) => {
  // the body is parsed (and would be rejected if it were not JSON) before this runs
  if (typeof request.body !== 'object' || request.body === null) throw new Error('no body');
  return reply.type('application/json; charset=utf-8').send(answer);
});
await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
