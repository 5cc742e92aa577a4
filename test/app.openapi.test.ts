import { readFileSync } from 'node:fs';
import { validate } from '@readme/openapi-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOpenApi, OPENAPI_FILE } from '../scripts/openapi.js';
import { ERRORS } from '../src/errors.js';
import { startApp } from './routes/helpers.js';

let app: FastifyInstance;
let doc: any;
beforeAll(async () => {
  app = await startApp();
  const r = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(r.statusCode).toBe(200);
  doc = r.json();
});
afterAll(async () => {
  await app?.close();
});

/** in the document's order */
const COMPUTE = ['/v1/gradients', '/v1/forward', '/v1/step', '/v1/train', '/v1/gradcheck', '/v1/explain'];

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, JSON.stringify(result)).toBe(true);
  });

  it('documents every route of docs/api.md', () => {
    for (const p of COMPUTE) expect(doc.paths[p]?.post, p).toBeDefined();
    for (const p of ['/v1/ops', '/healthz', '/readyz', '/metrics', '/v1/models/{id}']) expect(doc.paths[p]?.get, p).toBeDefined();
    expect(doc.paths['/v1/models']?.post).toBeDefined();
    expect(doc.paths['/v1/models/{id}']?.delete).toBeDefined();
  });

  it('publishes the limits in force', () => {
    expect(doc.info.description).toContain('4000000 tensor elements');
    expect(doc.paths['/v1/gradients'].post.description).toContain('(MAX_ELEMENTS)');
  });

  it('has a description on every property of every request and response schema', () => {
    const missing: string[] = [];
    const walk = (s: any, at: string) => {
      if (s === null || typeof s !== 'object') return;
      if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${at}[${i}]`));
      if (s.properties) {
        for (const [k, v] of Object.entries<any>(s.properties)) {
          if (!v.description && !v.$ref) missing.push(`${at}.${k}`);
        }
      }
      for (const [k, v] of Object.entries(s)) if (k !== 'examples' && k !== 'example') walk(v, `${at}.${k}`);
    };
    walk(doc.paths, 'paths');
    walk(doc.components.schemas, 'components');
    expect(missing).toEqual([]);
  });

  it('lists each status a route answers, with an example problem from the catalogue for each code', () => {
    for (const p of COMPUTE) {
      const responses = doc.paths[p].post.responses;
      const notFound = p === '/v1/step' ? [] : ['404']; // MODEL_NOT_FOUND: a model by reference this replica does not know
      expect(Object.keys(responses), p).toEqual(['200', '400', ...notFound, '413', '415', '422', '502', '503', '504']);
      for (const [status, r] of Object.entries<any>(responses)) {
        if (status === '200') continue;
        const media = r.content['application/problem+json'];
        expect(media.schema.$ref).toBe('#/components/schemas/Problem');
        const examples = Object.entries<any>(media.examples);
        expect(examples.length, `${p} ${status}`).toBeGreaterThan(0);
        for (const [code, ex] of examples) {
          expect(ex.value).toMatchObject({ code, status: Number(status), title: ERRORS[code as keyof typeof ERRORS].title, instance: p });
          expect(ex.value.detail).not.toBe('');
        }
      }
    }
    const limits = doc.paths['/v1/gradients'].post.responses['413'].content['application/problem+json'].examples;
    expect(limits.LIMIT_EXCEEDED.value.detail).toContain('(MAX_ELEMENTS)');
    expect(limits.BODY_TOO_LARGE.value.detail).toContain('BODY_LIMIT_MB');
    const schema = doc.paths['/v1/gradients'].post.responses['400'].content['application/problem+json'].examples;
    expect(schema.INVALID_REQUEST.value.detail).toContain('(did you mean "relu"?)');
    expect(Object.keys(doc.paths['/readyz'].get.responses)).toEqual(['200', '503']);
    expect(Object.keys(doc.paths['/v1/ops'].get.responses)).toEqual(['200']);
  });

  it('shows no security and no 401 or 429 when neither API_KEYS nor RATE_LIMIT is set', () => {
    expect(doc.components.securitySchemes).toBeUndefined();
    for (const item of Object.values<any>(doc.paths)) {
      for (const op of Object.values<any>(item)) {
        expect(op.security).toBeUndefined();
        expect(op.responses['401']).toBeUndefined();
        expect(op.responses['429']).toBeUndefined();
      }
    }
  });

  it('with API_KEYS and RATE_LIMIT, the /v1 routes need the key and list 401 and 429 with their problems', async () => {
    const guarded = await startApp({ apiKeys: ['k1'], rateLimit: 1000 });
    try {
      const d = (await guarded.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(d.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const [url, item] of Object.entries<any>(d.paths)) {
        for (const op of Object.values<any>(item)) {
          expect(op.security, url).toEqual(url.startsWith('/v1/') ? [{ bearerAuth: [] }] : undefined);
          if (!url.startsWith('/v1/')) continue;
          expect(op.responses['401'].content['application/problem+json'].examples.UNAUTHORIZED.value.detail).toBe('send Authorization: Bearer <API key>');
          expect(op.responses['429'].content['application/problem+json'].examples.RATE_LIMITED.value.code).toBe('RATE_LIMITED');
        }
      }
    } finally {
      await guarded.close();
    }
  });

  it('has one component per concept, each used, and package.json\'s version', () => {
    const names = Object.keys(doc.components.schemas);
    expect(names.filter((n) => n.endsWith('Input'))).toEqual([]);
    const text = JSON.stringify(doc.paths) + JSON.stringify(doc.components.schemas);
    for (const n of names) expect(text, n).toContain(`"#/components/schemas/${n}"`);
    expect(doc.info.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('lists the routes in a user\'s order: gradients first, the probes last', () => {
    expect(Object.keys(doc.paths)).toEqual([...COMPUTE, '/v1/models', '/v1/models/{id}', '/v1/ops', '/healthz', '/readyz', '/metrics']);
  });

  it('shows, for each request example, the answer the service gives to it (timing aside)', async () => {
    for (const p of COMPUTE) {
      const requests = doc.paths[p].post.requestBody.content['application/json'].examples;
      const answers = doc.paths[p].post.responses['200'].content['application/json'].examples;
      expect(Object.keys(answers), p).toEqual(Object.keys(requests));
      for (const [name, ex] of Object.entries<any>(requests)) {
        const real = (await app.inject({ method: 'POST', url: p, payload: ex.value })).json();
        expect({ ...answers[name].value, timing: undefined }, `${p} ${name}`).toEqual({ ...real, timing: undefined });
      }
    }
    const get = (url: string) => doc.paths[url].get.responses['200'].content['application/json'].examples.answer.value;
    expect(get('/v1/ops')).toEqual((await app.inject({ method: 'GET', url: '/v1/ops' })).json());
    const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json();
    // the cache's counts depend on what ran before; the example shows their form
    const { modelCache, ...example } = get('/readyz');
    const { modelCache: realCache, ...rest } = ready;
    expect(example).toEqual({ ...rest, kernelBackend: 'openblas', queueDepth: 0, busyWorkers: 0 });
    const keys = (c: Record<string, object>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Object.keys(v).sort()]));
    expect(keys(modelCache)).toEqual(keys(realCache));
    expect(Object.keys(get('/healthz'))).toEqual(['status', 'uptimeSeconds']);
  });

  it('documents JSON and safetensors bodies and answers on every compute route, JSON first (Swagger UI\'s default)', () => {
    const st = 'application/vnd.gradserve.safetensors';
    for (const p of COMPUTE) {
      const op = doc.paths[p].post;
      expect(Object.keys(op.requestBody.content), p).toEqual(['application/json', st]);
      expect(op.requestBody.content[st].schema).toMatchObject({ type: 'string', format: 'binary' });
      expect(op.requestBody.content[st].schema.description).toContain('optimizer/state/state/<param>/<buffer>');
      const answers = Object.keys(op.responses['200'].content);
      expect(answers[0], p).toBe('application/json');
      expect(answers, p).toContain(st);
      expect(op.responses['200'].content[st].schema.description).toContain('gradients/<param>');
    }
    expect(doc.paths['/v1/ops'].get.responses['200'].content['application/vnd.gradserve.safetensors']).toBeUndefined();
  });

  it('has runnable examples on every compute route, the two-weight chain first; each runs', async () => {
    // the examples by reference name the model POST /v1/models's example registers
    const register = doc.paths['/v1/models'].post.requestBody.content['application/json'].examples.twoWeight.value;
    const reg = await app.inject({ method: 'POST', url: '/v1/models', payload: register });
    // 200: building the document already ran the example, which registered it
    expect(reg.statusCode, reg.body).toBe(200);
    const byRef = doc.paths['/v1/gradients'].post.requestBody.content['application/json'].examples.twoWeightByRef.value;
    expect(byRef.model).toEqual({ ref: reg.json().id });
    for (const p of COMPUTE) {
      const examples = doc.paths[p].post.requestBody.content['application/json'].examples;
      const entries = Object.entries<any>(examples);
      expect(entries.length, p).toBeGreaterThanOrEqual(2);
      if (p !== '/v1/step') {
        expect(entries[0]![0]).toBe('twoWeight');
        expect(entries[0]![1].value.params).toEqual({ w1: 0.5, w2: -1.5 });
      }
      for (const [name, ex] of entries) {
        const r = await app.inject({ method: 'POST', url: p, payload: ex.value });
        expect(r.statusCode, `${p} example ${name}: ${r.body}`).toBe(200);
      }
    }
    const mlpAdam = doc.paths['/v1/gradients'].post.requestBody.content['application/json'].examples.mlpAdam.value;
    expect(mlpAdam.model.type).toBe('mlp');
    expect(mlpAdam.optimizer.type).toBe('adam');
  });

  it('the two-weight example on /v1/gradients gives dL/dw1 = 15', async () => {
    const ex = doc.paths['/v1/gradients'].post.requestBody.content['application/json'].examples.twoWeight.value;
    const r = await app.inject({ method: 'POST', url: '/v1/gradients', payload: ex });
    expect(r.json().gradients).toEqual({ w1: 15, w2: -5 });
  });

  it('the CNN example on /v1/gradients gives PyTorch\'s loss and gradients (torch 1.13 in float64; the answer float32, the default)', async () => {
    const ex = doc.paths['/v1/gradients'].post.requestBody.content['application/json'].examples.cnn.value;
    const r = (await app.inject({ method: 'POST', url: '/v1/gradients', payload: ex })).json();
    expect(r.loss).toBeCloseTo(0.5986764106934253, 6);
    [-0.1687, -0.0153].forEach((v, i) => expect(r.gradients.kb[i]).toBeCloseTo(v, 4));
    [-0.1243, -0.0669, 0.1912].forEach((v, i) => expect(r.gradients.b[i]).toBeCloseTo(v, 4));
    // no ties in its pooling windows, no convolution output at relu's kink: finite differences agree
    const check = (await app.inject({ method: 'POST', url: '/v1/gradcheck', payload: ex })).json();
    expect(check.passed, JSON.stringify(check)).toBe(true);
  });
});

describe('openapi/openapi.json', () => {
  it('is what `npm run openapi` generates now (run it and commit when this fails)', async () => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    expect(committed === (await generateOpenApi()), 'openapi/openapi.json is stale: run `npm run openapi`').toBe(true);
  });
});
