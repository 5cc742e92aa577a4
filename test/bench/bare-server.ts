// The bare Fastify baseline: it answers the bytes gradserve gave for the same request (read from
// BARE_RESPONSE_FILE), nothing else. The small-request scenario's baseline parses the same JSON body
// with Fastify's own parser. With BARE_POOL=n it also hands each parsed body to one of n piscina
// workers that does nothing with it and waits for the answer: the floor under any server that computes
// in worker threads. With BARE_BODY=bytes (the large scenario's floor) the body is only received, as
// bytes: the least any server must do with it; BARE_TYPE names the body's and the answer's media type
// (default application/json). With BARE_PROCESSES=n it runs as n node:cluster processes sharing the
// port, each with its share of the BARE_POOL workers, as gradserve does with PROCESSES=n.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Piscina } from 'piscina';

const processes = Number(process.env.BARE_PROCESSES ?? 1);
if (processes > 1 && cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  // the processes end with the primary (SIGTERM reaches them through their IPC channel closing)
  await new Promise(() => {});
}
const answer = readFileSync(process.env.BARE_RESPONSE_FILE!);
const workers = Math.floor(Number(process.env.BARE_POOL ?? 0) / processes);
const pool = workers > 0 ? new Piscina({ filename: new URL('./noop-worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers }) : null;
const type = process.env.BARE_TYPE ?? 'application/json';
const app = Fastify({ bodyLimit: 1 << 30 });
if (process.env.BARE_BODY === 'bytes') {
  if (type === 'application/json') app.removeContentTypeParser('application/json');
  app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}
app.get('/readyz', async () => ({ ready: true }));
app.post('/v1/gradients', async (request, reply) => {
  // the body is received (and parsed, unless BARE_BODY=bytes) before this runs
  if (typeof request.body !== 'object' || request.body === null) throw new Error('no body');
  if (pool) await pool.run(request.body);
  return reply.type(type === 'application/json' ? 'application/json; charset=utf-8' : type).send(answer);
});
await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
