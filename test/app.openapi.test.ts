import { readFileSync } from 'node:fs';
import { validate } from '@readme/openapi-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOpenApi, OPENAPI_FILE } from '../scripts/openapi.js';
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

const COMPUTE = ['/v1/gradients', '/v1/forward', '/v1/gradcheck', '/v1/explain', '/v1/step', '/v1/train'];

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, JSON.stringify(result)).toBe(true);
  });

  it('documents every route of API.md', () => {
    for (const p of COMPUTE) expect(doc.paths[p]?.post, p).toBeDefined();
    for (const p of ['/v1/ops', '/healthz', '/readyz', '/metrics']) expect(doc.paths[p]?.get, p).toBeDefined();
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

  it('answers every error as problem+json', () => {
    for (const p of COMPUTE) {
      const responses = doc.paths[p].post.responses;
      expect(responses['4XX'].content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
      expect(responses['5XX'].content['application/problem+json']).toBeDefined();
    }
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
});

describe('openapi/openapi.json', () => {
  it('is what `npm run openapi` generates now (run it and commit when this fails)', async () => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    expect(committed === (await generateOpenApi()), 'openapi/openapi.json is stale: run `npm run openapi`').toBe(true);
  });
});
