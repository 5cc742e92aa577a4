import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LimitError, SpecError } from '../../src/engine/errors.js';
import { ERRORS, HttpError, problem, problemType } from '../../src/errors.js';
import { classify, RequestValidationError } from '../../src/plugins/errors.js';

describe('the error catalogue', () => {
  it('is documented code by code in docs/api.md, with its status', () => {
    const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(ERRORS)) expect(doc, code).toContain(`| \`${code}\` | ${status} |`);
  });

  it('gives every code its own problem type and a 4xx/5xx status', () => {
    const types = Object.keys(ERRORS).map((c) => problemType(c as keyof typeof ERRORS));
    expect(new Set(types).size).toBe(types.length);
    for (const { status } of Object.values(ERRORS)) expect(status).toBeGreaterThanOrEqual(400);
  });

  it('builds RFC 9457 problems', () => {
    expect(problem('QUEUE_FULL', 'busy', [], '/v1/gradients')).toEqual({
      type: 'urn:gradserve:problem:queue-full',
      title: ERRORS.QUEUE_FULL.title,
      status: 503,
      detail: 'busy',
      code: 'QUEUE_FULL',
      instance: '/v1/gradients',
    });
  });
});

describe('classify', () => {
  it('maps engine errors to 422 and 413 with formatted paths', () => {
    const spec = classify(new SpecError(['model', 'nodes', 3, 'inputs', 1], 'unknown reference "q"'));
    expect(spec).toMatchObject({ code: 'INVALID_SPEC', errors: [{ path: 'model.nodes[3].inputs[1]', message: 'unknown reference "q"' }] });
    expect(classify(new LimitError(['inputs', 'x'], 'too big'))).toMatchObject({ code: 'LIMIT_EXCEEDED', errors: [{ path: 'inputs.x' }] });
  });

  it('maps Fastify\'s body errors', () => {
    const e = (code: string, statusCode: number) => Object.assign(new Error(code), { code, statusCode });
    expect(classify(e('FST_ERR_CTP_BODY_TOO_LARGE', 413)).code).toBe('BODY_TOO_LARGE');
    expect(classify(e('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(classify(e('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).code).toBe('INVALID_JSON');
    expect(classify(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 })).code).toBe('INVALID_JSON');
  });

  it('keeps HttpError codes and headers; anything unknown is internal', () => {
    const h = classify(new HttpError('QUEUE_FULL', 'busy', [], { 'retry-after': '2' }));
    expect(h).toMatchObject({ code: 'QUEUE_FULL', headers: { 'retry-after': '2' } });
    expect(classify(new TypeError('x is undefined')).code).toBe('INTERNAL');
  });

  it('reports the deepest branch of a failed union, with zod\'s paths', () => {
    const Tensor = z.union([z.number(), z.strictObject({ shape: z.array(z.number()), data: z.array(z.number()) })]);
    const r = z.object({ inputs: z.record(z.string(), Tensor) }).safeParse({ inputs: { x: { shape: [2], data: [1, 'a'] } } });
    const err = new RequestValidationError(r.error!.issues);
    expect(err.issues).toEqual([{ path: 'inputs.x.data[1]', message: 'expected a number, got the string "a"' }]);
  });
});
