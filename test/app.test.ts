import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { expectProblem, post, startApp, twoWeight } from './routes/helpers.js';

// The app's infrastructure through app.inject: probes, metrics, request ids, and the error statuses
// that do not depend on a route (404, 415, 400 JSON, 413 body/elements/nodes).

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ bodyLimitBytes: 64 * 1024, maxElements: 1000, maxNodes: 10 });
});
afterAll(async () => {
  await app?.close();
});

describe('probes', () => {
  it('GET /healthz answers while the process lives', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /readyz reports the kernel backend and the limits in force', async () => {
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(['openblas', 'wasm', 'reference']).toContain(body.kernelBackend);
    expect(body.limits).toMatchObject({ bodyLimitBytes: 64 * 1024, maxElements: 1000, maxNodes: 10, rateLimitPerMinute: null });
    expect(body.workers).toBe(1);
    expect(body.auth).toBe(false);
  });

  it('GET /readyz answers 503 once the pool stops accepting (the first step of a shutdown)', async () => {
    app.accepting = false;
    try {
      const r = await app.inject({ method: 'GET', url: '/readyz' });
      expectProblem({ status: r.statusCode, headers: r.headers, body: r.json() }, 503, 'NOT_READY');
      // liveness is unaffected
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      app.accepting = true;
    }
  });
});

describe('errors are problem+json', () => {
  it('404 for an unknown route, with the request id', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/gradients', headers: { 'x-request-id': 'abc-123' } });
    const body = r.json();
    expectProblem({ status: r.statusCode, headers: r.headers, body }, 404, 'NOT_FOUND');
    expect(body.type).toBe('urn:gradserve:problem:not-found');
    expect(body.requestId).toBe('abc-123');
    expect(r.headers['x-request-id']).toBe('abc-123');
  });

  it('415 for a compressed body, naming its Content-Encoding', async () => {
    const r = await post(app, '/v1/gradients', 'not really gzip', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expectProblem(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(r.body.detail).toMatch(/^Content-Encoding gzip is not supported/);
    for (const identity of ['identity', 'Identity', '']) {
      expect((await post(app, '/v1/gradients', twoWeight, { headers: { 'content-encoding': identity } })).status).toBe(200);
    }
  });

  it('a trailing slash names the same route, not a 404', async () => {
    const r = await post(app, '/v1/gradients/', twoWeight);
    expect(r.status).toBe(200);
    expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
    expect((await app.inject({ method: 'GET', url: '/healthz/' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBeLessThan(400);
    // and so does a 405's
    const put = await app.inject({ method: 'PUT', url: '/v1/models/sha256:abc/' });
    expect([put.statusCode, put.headers.allow]).toEqual([405, 'DELETE, GET, HEAD']);
  });

  it('replaces a malformed X-Request-Id with a fresh one', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('415 for a body that is not JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await post(app, '/v1/gradients', 'w1=0.5', { headers: { 'content-type': type } });
      expectProblem(r, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('400 for malformed JSON, an empty body, and prototype poisoning', async () => {
    const json = { 'content-type': 'application/json' };
    expectProblem(await post(app, '/v1/gradients', '{"model": ', { headers: json }), 400, 'INVALID_JSON');
    expectProblem(await post(app, '/v1/gradients', '', { headers: json }), 400, 'INVALID_JSON');
    const poisoned = await post(app, '/v1/gradients', '{"__proto__": {"x": 1}}', { headers: json });
    expect(poisoned.status).toBe(400);
    expect(poisoned.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('400 with zod paths for a body that breaks the schema', async () => {
    const r = await post(app, '/v1/gradients', { model: { type: 'graph' }, inputs: {} });
    expectProblem(r, 400, 'INVALID_REQUEST');
    const paths = r.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toContain('model.nodes');
    expect(paths).toContain('model.output');
  });

  it('400 names the element of a flat tensor that is not a number, as for nested arrays', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], data: [1, 'two'] }, t: 1 } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors[0]).toEqual({ path: 'inputs.x.data[1]', message: 'expected a number, got the string "two"' });
  });

  it('400 for flat data that is not an array', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], data: { 0: 1, 1: 2 } }, t: 1 } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors[0]).toEqual({ path: 'inputs.x.data', message: 'expected an array of numbers' });
  });

  it('413 for a body over BODY_LIMIT_MB', async () => {
    const big = { ...twoWeight, inputs: { x: 2, t: 1, pad: new Array(40_000).fill(0) } };
    expectProblem(await post(app, '/v1/gradients', big), 413, 'BODY_TOO_LARGE');
  });

  it('413 for tensors over MAX_ELEMENTS, before decoding them', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [100, 100], data: [] }, t: 1 } });
    expectProblem(r, 413, 'LIMIT_EXCEEDED');
    expect(r.body.errors[0].path).toBe('inputs.x');
    // the sum counts too: two tensors of 600 elements each
    const two = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: new Array(600).fill(1), t: new Array(600).fill(1) } });
    expectProblem(two, 413, 'LIMIT_EXCEEDED');
  });

  it('413 for activations over MAX_ELEMENTS (found by the engine before allocating)', async () => {
    // 30 × 30 inputs are within the limit; their 30 × 30 matmul products are not
    const x = Array.from({ length: 30 }, () => new Array(30).fill(0.1));
    const model = {
      type: 'graph',
      inputs: ['x'],
      nodes: [
        { id: 'a', op: 'matmul', inputs: ['x', 'x'] },
        { id: 'L', op: 'sum', inputs: ['a'] },
      ],
      output: 'L',
    };
    expectProblem(await post(app, '/v1/forward', { model, inputs: { x } }), 413, 'LIMIT_EXCEEDED');
  });

  it('413 for a graph over MAX_NODES', async () => {
    const nodes = Array.from({ length: 11 }, (_, i) => ({ id: `n${i}`, op: 'neg', inputs: [i === 0 ? 'x' : `n${i - 1}`] }));
    const r = await post(app, '/v1/forward', { model: { type: 'graph', inputs: ['x'], nodes, output: 'n10' }, inputs: { x: 1 } });
    expectProblem(r, 413, 'LIMIT_EXCEEDED');
    expect(r.body.errors[0].path).toBe('model.nodes');
  });

  it('never answers 500 to nested arrays deeper than any tensor', async () => {
    // written by hand: JSON.stringify itself recurses
    const deep = `${'['.repeat(30_000)}1${']'.repeat(30_000)}`;
    const body = JSON.stringify({ ...twoWeight, inputs: { x: 0, t: 1 } }).replace('"x":0', `"x":${deep}`);
    const r = await post(app, '/v1/gradients', body, { headers: { 'content-type': 'application/json' } });
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0].message).toMatch(/deeper than rank 8/);
  });
});

describe('metrics', () => {
  it('GET /metrics exposes request counts by route and status, the pool gauges and process metrics', async () => {
    await post(app, '/v1/gradients', twoWeight);
    await app.inject({ method: 'GET', url: '/no/such/route' });
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    const text = r.body;
    expect(text).toMatch(/http_requests_total\{route="\/v1\/gradients",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/http_requests_total\{route="unmatched",method="GET",status="404"\} \d+/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/gradients"/);
    expect(text).toMatch(/gradserve_queue_depth 0/);
    expect(text).toMatch(/gradserve_busy_workers 0/);
    expect(text).toMatch(/gradserve_worker_starts_total 1/);
    expect(text).toMatch(/gradserve_second_core_parts_total 0/);
    expect(text).toMatch(/gradserve_second_core_helpers_given_up_total 0/);
    expect(text).toMatch(/gradserve_compute_seconds_count\{kind="gradients"\} \d+/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });

  it('counts the computations small enough for the event loop (IN_PLACE_FLOPS), and only those', async () => {
    const inPlace = async () => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return Number(/^gradserve_tasks_in_place_total (\d+)$/m.exec(text)?.[1]);
    };
    const before = await inPlace();
    expect(before).toBeGreaterThanOrEqual(0);
    // the README's chain (three nodes), and a chain of nine nodes (this app's MAX_NODES is 10), over the bound
    expect((await post(app, '/v1/gradients', twoWeight)).status).toBe(200);
    expect(await inPlace()).toBe(before + 1);
    const nodes = Array.from({ length: 8 }, (_, i) => ({ id: `n${i}`, op: 'mul', inputs: ['w', i === 0 ? 'x' : `n${i - 1}`] }));
    const wide = {
      model: { type: 'graph', inputs: ['x', 't'], params: { w: { shape: [] } }, nodes: [...nodes, { id: 'L', op: 'mse_loss', inputs: ['n7', 't'] }], output: 'L' },
      params: { w: 1 },
      inputs: { x: 2, t: 1 },
    };
    expect((await post(app, '/v1/gradients', wide)).status).toBe(200);
    expect(await inPlace()).toBe(before + 1);
  });
});

describe('answers', () => {
  it('are written after the turn of the event loop that made them, together, and an error while writing one is answered as Fastify answers it', async () => {
    const own = await buildApp(testConfig());
    const sent: boolean[] = [];
    own.get('/held', (_request, reply) => {
      void reply.send({ ok: true });
      sent.push(reply.raw.headersSent);
      setImmediate(() => sent.push(reply.raw.headersSent));
      return reply;
    });
    // writeHead throws on a header with a line break
    own.get('/bad-header', (_request, reply) => reply.header('x-bad', 'a\nb').send({ ok: true }));
    await own.ready();
    try {
      const r = await own.inject({ method: 'GET', url: '/held' });
      await new Promise(setImmediate);
      expect([r.statusCode, r.json()]).toEqual([200, { ok: true }]);
      // held when sent, written in the check phase that follows
      expect(sent).toEqual([false, true]);
      // thrown in a timer's callback, not inside Fastify's hook runner: caught, or the process would end
      const bad = await own.inject({ method: 'GET', url: '/bad-header' });
      expect([bad.statusCode, bad.json().code]).toEqual([500, 'ERR_INVALID_CHAR']);
      expect((await own.inject({ method: 'GET', url: '/held' })).statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('close', () => {
  it('does not wait for a connection that never sent a request', async () => {
    const own = await startApp();
    await own.listen({ host: '127.0.0.1', port: 0 });
    const { port } = own.server.address() as AddressInfo;
    const idle = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => idle.once('connect', resolve).once('error', reject));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    const t0 = performance.now();
    // without ending that connection, close() waits for its headers timeout (60 s)
    await own.close();
    expect(performance.now() - t0).toBeLessThan(2_000);
    await closed;
  });
});
