import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config.js';
import { ERRORS, problem, type ErrorCode, type Problem } from '../errors.js';
import { bodyTooLarge } from './errors.js';

// The OpenAPI document as a reader of Swagger UI or a client generator needs it, finished from what
// @fastify/swagger builds: routes in a user's order, one component per concept, every status a route
// can answer with an example problem, the 200 answers of the request examples as they really come,
// security only when API_KEYS is set, and package.json's version.

type Json = Record<string, any>;

/** The order a user reads the routes in: the main computation first, the probes last. */
const ORDER = ['/v1/gradients', '/v1/forward', '/v1/step', '/v1/train', '/v1/gradcheck', '/v1/explain', '/v1/models', '/v1/models/{id}', '/v1/ops', '/healthz', '/readyz', '/metrics'];

/** The folder of package.json, from src/ or from dist/. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above src/plugins');
    dir = up;
  }
  return dir;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The statuses a route answers besides 200, and which problem codes stand behind each. */
function errorCodes(url: string, method: string, config: AppConfig): ErrorCode[] {
  const v1 = url.startsWith('/v1/');
  const guarded: ErrorCode[] = [...(v1 && config.apiKeys.length > 0 ? ['UNAUTHORIZED' as const] : []), ...(v1 && config.rateLimit !== undefined ? ['RATE_LIMITED' as const] : [])];
  if (url === '/v1/models') {
    return method === 'post' ? ['INVALID_REQUEST', 'INVALID_JSON', ...guarded, 'BODY_TOO_LARGE', 'LIMIT_EXCEEDED', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_SPEC', 'SHUTTING_DOWN'] : guarded;
  }
  if (url === '/v1/models/{id}') return ['INVALID_REQUEST', ...guarded, 'MODEL_NOT_FOUND'];
  if (v1 && method === 'post') {
    return ['INVALID_REQUEST', 'INVALID_JSON', 'INVALID_BODY', ...guarded, ...(url === '/v1/step' ? [] : ['MODEL_NOT_FOUND' as const]), 'BODY_TOO_LARGE', 'LIMIT_EXCEEDED', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_SPEC', 'WORKER_CRASHED', 'QUEUE_FULL', 'SHUTTING_DOWN', 'TIMEOUT'];
  }
  if (url === '/readyz') return ['NOT_READY', 'SHUTTING_DOWN'];
  return guarded;
}

/** A request that gets each client error, sent at doc-build time so the examples are the real answers. */
const MISTAKES: Partial<Record<ErrorCode, { body: string; contentType?: string; auth?: false }>> = {
  INVALID_JSON: { body: '{"model": {"type": "mlp",}' },
  INVALID_REQUEST: {
    body: JSON.stringify({ model: { type: 'mlp', inputSize: 2, layers: [{ units: 1, activation: 'ReLU' }] }, inputs: [[1, 2]] }),
  },
  INVALID_SPEC: {
    body: JSON.stringify({
      model: { type: 'graph', inputs: ['x'], params: { w: { shape: [] } }, nodes: [{ id: 'y', op: 'mull', inputs: ['w', 'x'] }], output: 'y' },
      inputs: { x: 2 },
    }),
  },
  LIMIT_EXCEEDED: {
    body: JSON.stringify({ model: { type: 'mlp', inputSize: 2, layers: [{ units: 1 }] }, inputs: { shape: [1e9, 2], data: [] } }),
  },
  UNSUPPORTED_MEDIA_TYPE: { body: 'model=mlp', contentType: 'text/plain' },
  // a safetensors file whose 5-byte header is not JSON
  INVALID_BODY: { body: '\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000nope!', contentType: 'application/vnd.gradserve.safetensors' },
  MODEL_NOT_FOUND: { body: JSON.stringify({ model: { ref: `sha256:${'0'.repeat(64)}` }, inputs: { x: 2, t: 1 } }) },
  UNAUTHORIZED: { body: '{}', auth: false },
};

/** The problems the service raises on its own, in the words of the code that raises them. */
function serviceProblems(config: AppConfig): Partial<Record<ErrorCode, { detail: string; errors?: Problem['errors'] }>> {
  return {
    BODY_TOO_LARGE: { detail: bodyTooLarge(config.bodyLimitBytes) },
    RATE_LIMITED: { detail: `more than ${config.rateLimit} requests a minute; retry in 1 minute` }, // app.ts
    WORKER_CRASHED: { detail: 'the worker computing this request died (worker exited with code 1); it has been replaced' }, // workers/pool.ts
    QUEUE_FULL: { detail: `${config.queueLimit} computations are waiting; retry later` }, // workers/pool.ts
    NOT_READY: { detail: 'the worker pool is not accepting computations' }, // routes/health
    SHUTTING_DOWN: { detail: 'the service is shutting down; retry on another instance' }, // app.ts
    TIMEOUT: { detail: `the computation took longer than ${config.timeoutMs} ms and was stopped` }, // workers/pool.ts
  };
}

/** The GET routes answered at doc-build time; `unstable`: the values that vary by run or machine, fixed. */
const GET_EXAMPLES: Record<string, { summary: string; unstable?: Json }> = {
  '/v1/ops': { summary: 'every op' },
  '/healthz': { summary: 'the process is up', unstable: { uptimeSeconds: 3600 } },
  '/readyz': {
    summary: 'ready, with the default limits',
    unstable: {
      kernelBackend: 'openblas',
      queueDepth: 0,
      busyWorkers: 0,
      modelCache: {
        specs: { entries: 1, bytes: 498, maxEntries: 1024, maxBytes: 67108864 },
        plans: { entries: 2, bytes: 6656, hits: 40, misses: 2, evictions: 0 },
      },
    },
  },
};

export interface DocExamples {
  /** per route, the answers to its request examples by example name */
  answers: Map<string, Json>;
  problems: Map<ErrorCode, Json>;
}

const EXAMPLE_REQUEST_ID = 'example';

/**
 * The examples' requests carry this header with a value no client knows: they are the service asking
 * itself, not traffic, so the request metrics and the logs leave them out.
 */
const EXAMPLE_HEADER = 'x-gradserve-example';
const EXAMPLE_MARK = randomUUID();
export const isExampleRequest = (raw: IncomingMessage): boolean => raw.headers[EXAMPLE_HEADER] === EXAMPLE_MARK;

/** Timing differs on every run; an example shows its form. */
function withoutTiming(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Json;
  if (o.timing && typeof o.timing === 'object') o.timing = Object.fromEntries(Object.keys(o.timing).map((k) => [k, 0]));
  return o;
}

/** Runs every request example and every mistake of MISTAKES through the live app (once it is ready). */
export async function collectExamples(app: FastifyInstance, doc: Json, config: AppConfig): Promise<DocExamples> {
  const auth: Record<string, string> = config.apiKeys.length > 0 ? { authorization: `Bearer ${config.apiKeys[0]}` } : {};
  const mark = { 'x-request-id': EXAMPLE_REQUEST_ID, [EXAMPLE_HEADER]: EXAMPLE_MARK };
  const headers = { ...auth, ...mark };
  // an example the service does not answer as expected (a tight RATE_LIMIT, say) is left out, not fatal
  const skipped = (what: string, answer: string) => app.log.warn({ answer }, `OpenAPI document: ${what} left out`);
  const answers = new Map<string, Json>();
  // registration first: the examples by reference name the model POST /v1/models's example registers
  const paths = Object.entries<Json>(doc.paths).sort(([a], [b]) => Number(b === '/v1/models') - Number(a === '/v1/models'));
  for (const [url, item] of paths) {
    const examples: Json | undefined = item.post?.requestBody?.content?.['application/json']?.examples;
    const out: Json = {};
    if (examples) {
      for (const [name, ex] of Object.entries<Json>(examples)) {
        const r = await app.inject({ method: 'POST', url, payload: ex.value, headers });
        if (r.statusCode === 200 || r.statusCode === 201) out[name] = { summary: ex.summary, value: withoutTiming(r.json()) };
        else skipped(`POST ${url} example ${name}`, r.body);
      }
    } else if (url in GET_EXAMPLES) {
      const { summary, unstable } = GET_EXAMPLES[url]!;
      const r = await app.inject({ method: 'GET', url, headers });
      if (r.statusCode === 200) out.answer = { summary, value: { ...r.json(), ...unstable } };
      else skipped(`GET ${url}`, r.body);
    }
    if (Object.keys(out).length > 0) answers.set(url, out);
  }
  const problems = new Map<ErrorCode, Json>();
  for (const [code, m] of Object.entries(MISTAKES) as [ErrorCode, NonNullable<(typeof MISTAKES)[ErrorCode]>][]) {
    if (code === 'UNAUTHORIZED' && config.apiKeys.length === 0) continue;
    const r = await app.inject({
      method: 'POST',
      url: '/v1/gradients',
      payload: m.body,
      headers: { ...(m.auth === false ? {} : auth), ...mark, 'content-type': m.contentType ?? 'application/json' },
    });
    const p = r.json() as Json;
    if (p.code === code) problems.set(code, p);
    else skipped(`the example of ${code}`, r.body);
  }
  for (const [code, p] of Object.entries(serviceProblems(config)) as [ErrorCode, { detail: string; errors?: Problem['errors'] }][]) {
    problems.set(code, { ...problem(code, p.detail, p.errors, '/v1/gradients'), requestId: EXAMPLE_REQUEST_ID });
  }
  return { answers, problems };
}

/** Every $ref name reachable from the paths. */
function reachable(doc: Json): Set<string> {
  const seen = new Set<string>();
  const stack: unknown[] = [doc.paths];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const [k, c] of Object.entries(v)) {
      if (k === '$ref' && typeof c === 'string') {
        const name = c.replace('#/components/schemas/', '');
        if (!seen.has(name)) {
          seen.add(name);
          stack.push(doc.components.schemas[name]);
        }
      } else stack.push(c);
    }
  }
  return seen;
}

/**
 * One component per concept: fastify-type-provider-zod emits every named schema twice, as read
 * (`XInput`) and as written (`X`), used or not. The ones no route reaches go; a request-side one
 * keeps the concept's plain name when no answer uses that name.
 */
function oneSchemaPerConcept(doc: Json): Json {
  const used = reachable(doc);
  const rename = new Map<string, string>();
  for (const name of used) {
    const plain = name.replace(/Input$/, '');
    if (plain !== name && !used.has(plain)) rename.set(name, plain);
  }
  const schemas = Object.fromEntries(
    Object.entries<Json>(doc.components.schemas)
      .filter(([name]) => used.has(name))
      .map(([name, s]) => [rename.get(name) ?? name, s]),
  );
  const text = JSON.stringify({ ...doc, components: { ...doc.components, schemas } }).replace(
    /"#\/components\/schemas\/(\w+)"/g,
    (m, name: string) => (rename.has(name) ? `"#/components/schemas/${rename.get(name)}"` : m),
  );
  return JSON.parse(text) as Json;
}

function problemResponse(codes: ErrorCode[], examples: DocExamples, url: string): Json {
  const titles = codes.map((c) => `${c}: ${ERRORS[c].title}`).join('; ');
  return {
    description: titles,
    content: {
      'application/problem+json': {
        schema: { $ref: '#/components/schemas/Problem' },
        examples: Object.fromEntries(
          codes.flatMap((c) => {
            const p = examples.problems.get(c);
            return p ? [[c, { summary: ERRORS[c].title, value: { ...p, instance: url } }]] : [];
          }),
        ),
      },
    },
  };
}

/** The document @fastify/swagger built, finished for readers (see the top of this file). */
export function finishDocument(built: Json, config: AppConfig, examples: DocExamples): Json {
  const doc = structuredClone(built);
  const rank = (url: string) => (ORDER.includes(url) ? ORDER.indexOf(url) : ORDER.length);
  const paths: Json = {};
  for (const url of Object.keys(doc.paths).sort((a, b) => rank(a) - rank(b))) {
    const item: Json = doc.paths[url];
    for (const [method, op] of Object.entries<Json>(item)) {
      const answers = examples.answers.get(url);
      const ok = (op.responses?.['201'] ?? op.responses?.['200'])?.content?.['application/json'];
      if (answers && ok) ok.examples = answers;
      const byStatus = new Map<number, ErrorCode[]>();
      for (const code of errorCodes(url, method, config)) {
        const s = ERRORS[code].status;
        byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
      }
      for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) op.responses[String(status)] = problemResponse(codes, examples, url);
      if (config.apiKeys.length > 0 && url.startsWith('/v1/')) op.security = [{ bearerAuth: [] }];
    }
    paths[url] = item;
  }
  doc.paths = paths;
  if (config.apiKeys.length > 0) {
    doc.components.securitySchemes = {
      bearerAuth: { type: 'http', scheme: 'bearer', description: 'One of the API_KEYS the service was started with; required on the /v1 routes.' },
    };
  }
  return oneSchemaPerConcept(doc);
}
