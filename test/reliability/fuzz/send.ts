import type { FastifyInstance } from 'fastify';
import { related } from './json-path.js';
import type { Case } from './invalid.js';

export interface Answer {
  status: number;
  contentType: string;
  body: any;
}

export async function send(app: FastifyInstance, url: string, body: unknown, rawReplace?: [string, string]): Promise<Answer> {
  let text = JSON.stringify(body);
  if (rawReplace) text = text.replace(rawReplace[0], rawReplace[1]);
  const r = await app.inject({ method: 'POST', url, payload: text, headers: { 'content-type': 'application/json' } });
  return { status: r.statusCode, contentType: String(r.headers['content-type']), body: r.body === '' ? undefined : JSON.parse(r.body) };
}

/** Why an error answer is not a proper problem+json (null when it is). */
export function problemFault(a: Answer): string | null {
  if (!a.contentType.startsWith('application/problem+json')) return `content-type ${a.contentType}`;
  const b = a.body;
  for (const k of ['type', 'title', 'status', 'detail', 'code']) if (!(k in (b ?? {}))) return `no ${k}`;
  if (b.status !== a.status) return `body status ${b.status} vs ${a.status}`;
  if (b.errors !== undefined) {
    if (!Array.isArray(b.errors) || b.errors.length === 0) return 'errors is empty';
    for (const e of b.errors) if (typeof e.path !== 'string' || typeof e.message !== 'string') return `bad issue ${JSON.stringify(e)}`;
  }
  return null;
}

/** Throws (with the request) unless the answer is what the case expects. */
export function check(c: Case, a: Answer): void {
  const fail = (why: string) => {
    throw new Error(`${c.kind} ${c.url}: ${why}\nanswer ${a.status} ${JSON.stringify(a.body).slice(0, 600)}\nbody ${JSON.stringify(c.body).slice(0, 1500)}`);
  };
  if (!c.expect.statuses.includes(a.status)) fail(`status ${a.status}, expected ${c.expect.statuses.join('/')}`);
  const fault = problemFault(a);
  if (fault) fail(fault);
  const { field, message } = c.expect;
  if (field === undefined) return;
  const errors: { path: string; message: string }[] = a.body.errors ?? [];
  const named = errors.filter((e) => related(e.path, field));
  if (named.length === 0) fail(`no error names ${field}: ${JSON.stringify(errors)}`);
  if (message && !named.some((e) => message.test(e.message))) fail(`no error at ${field} matches ${message}`);
}
