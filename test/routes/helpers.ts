import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { testConfig, type AppConfig } from '../../src/config.js';
import { twoWeight } from '../../src/routes/shared/examples.js';

export { twoWeight };

/** An app on the real worker pool (one worker), ready; every response is checked against its schema. */
export async function startApp(overrides: Partial<AppConfig> = {}, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(overrides), options);
  await app.ready();
  return app;
}

export async function post(app: FastifyInstance, url: string, payload: unknown, extra: Partial<InjectOptions> = {}) {
  const res = await app.inject({ method: 'POST', url, payload: payload as InjectOptions['payload'], ...extra });
  return { status: res.statusCode, headers: res.headers, body: res.body === '' ? undefined : JSON.parse(res.body), raw: res.body };
}

/** The problem+json shape every error must have. */
export function expectProblem(res: { status: number; headers: Record<string, unknown>; body: any }, status: number, code: string) {
  if (res.status !== status || res.body?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  const ct = String(res.headers['content-type']);
  if (!ct.startsWith('application/problem+json')) throw new Error(`content-type ${ct}`);
  for (const k of ['type', 'title', 'status', 'detail']) if (!(k in res.body)) throw new Error(`problem without ${k}`);
}
