import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanStats } from '../../src/engine/plans.js';
import { canonicalJson, modelId } from '../../src/plugins/models.js';
import { xorMlp } from '../../src/routes/shared/examples.js';
import { expectProblem, post, startApp, twoWeight } from './helpers.js';
import { waitFor } from '../reliability/helpers.js';
import { SAFETENSORS, safetensors } from '../wire/safetensors-helpers.js';

// Content-addressed models (docs/models.md), through app.inject and the real worker pool. Every
// computation goes to a worker (IN_PLACE_FLOPS=0): these models are tiny, and the tests follow the
// workers' plans (test/workers/in-place.test.ts has those of the event loop).

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ inPlaceFlops: 0 });
});
afterAll(async () => {
  await app?.close();
});

const get = async (a: FastifyInstance, url: string) => {
  const res = await a.inject({ method: 'GET', url });
  return { status: res.statusCode, headers: res.headers, body: res.body === '' ? undefined : JSON.parse(res.body), raw: res.body };
};
const del = async (a: FastifyInstance, url: string) => {
  const res = await a.inject({ method: 'DELETE', url });
  return { status: res.statusCode, headers: res.headers, body: res.body === '' ? undefined : JSON.parse(res.body) };
};
const register = async (a: FastifyInstance, spec: unknown) => post(a, '/v1/models', spec);
/** The compute answer without its timing, which differs from call to call. */
const untimed = (body: Record<string, unknown>) => {
  const { timing: _t, ...rest } = body;
  return rest;
};
/** A graph model no other test registers: `k` changes its constant. */
const scaled = (k: number) => ({
  type: 'graph',
  inputs: ['x'],
  params: { w: { shape: [2] } },
  constants: { k: [k, 2 * k] },
  nodes: [
    { id: 'y', op: 'mul', inputs: ['w', 'x'] },
    { id: 'z', op: 'mul', inputs: ['y', 'k'] },
    { id: 'L', op: 'sum', inputs: ['z'] },
  ],
  output: 'L',
});
const metric = async (a: FastifyInstance, name: string, cache: string) => {
  const text = (await a.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{cache="${cache}"}`));
  return Number(line?.split(' ')[1]);
};

describe('POST /v1/models', () => {
  it('a compute body\'s {"model": spec} sent here: a 400 saying the body is the spec itself', async () => {
    const r = await register(app, { model: twoWeight.model });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.detail).toBe('the body is the model spec itself, not {"model": spec}: send the value of `model`');
    expect(r.body.errors[0].path).toBe('model');
  });

  it('answers 201 with the sha256 of the canonical JSON and a summary, then 200 with the same id however the spec is written', async () => {
    const spec = scaled(1);
    const r = await register(app, spec);
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe(`/v1/models/${r.body.id}`);
    // keys sorted at every level, no whitespace
    const canonical =
      '{"constants":{"k":[1,2]},"inputs":["x"],"nodes":[{"id":"y","inputs":["w","x"],"op":"mul"},{"id":"z","inputs":["y","k"],"op":"mul"},' +
      '{"id":"L","inputs":["z"],"op":"sum"}],"output":"L","params":{"w":{"shape":[2]}},"type":"graph"}';
    const hex = createHash('sha256').update(canonical).digest('hex');
    expect(r.body).toEqual({
      id: `sha256:${hex}`,
      hash: hex,
      summary: { params: [{ name: 'w', shape: [2] }], nodes: 3, ops: { mul: 2, sum: 1 } },
    });
    const reordered = JSON.parse(JSON.stringify({ output: 'L', nodes: spec.nodes, constants: spec.constants, params: spec.params, inputs: spec.inputs, type: 'graph' }));
    const again = await app.inject({ method: 'POST', url: '/v1/models', payload: JSON.stringify(reordered, null, 2), headers: { 'content-type': 'application/json' } });
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body).id).toBe(r.body.id);
  });

  it('summarizes an MLP as its expanded graph', async () => {
    const r = await register(app, xorMlp.model);
    expect(r.status).toBe(201);
    expect(r.body.summary).toEqual({
      params: [
        { name: 'layers.0.weight', shape: [4, 2] },
        { name: 'layers.0.bias', shape: [4] },
        { name: 'layers.1.weight', shape: [1, 4] },
        { name: 'layers.1.bias', shape: [1] },
      ],
      nodes: 4,
      ops: { linear: 2, sigmoid: 1, tanh: 1 },
    });
  });

  it('checks the model once, naming the fields of the body: 400 for the schema, 422 for the compiler, 413 for the limits', async () => {
    expectProblem(await register(app, { type: 'graph', nodes: [] }), 400, 'INVALID_REQUEST');
    const bad = await register(app, { ...scaled(1), nodes: [{ id: 'y', op: 'nope', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['q'] }] });
    expectProblem(bad, 422, 'INVALID_SPEC');
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(['nodes[0].op', 'nodes[1].inputs[0]']);
    // a shape that follows from params and constants alone is checked at registration
    const shapes = await register(app, { ...scaled(1), nodes: [{ id: 'L', op: 'matmul', inputs: ['w', 'w'] }, { id: 'M', op: 'add', inputs: ['w', 'k'] }] });
    expect(shapes.status).toBe(201);
    const mismatch = await register(app, { ...scaled(1), params: { w: { shape: [3] } }, nodes: [{ id: 'L', op: 'add', inputs: ['w', 'k'] }] });
    expectProblem(mismatch, 422, 'INVALID_SPEC');
    expect(mismatch.body.errors[0].path).toMatch(/^nodes\[0\]/);
    const small = await startApp({ maxNodes: 2, maxElements: 1000 });
    try {
      // named as fields of this body (`nodes`, not the compute routes' `model.nodes`)
      const nodes = await register(small, scaled(1));
      expectProblem(nodes, 413, 'LIMIT_EXCEEDED');
      expect(nodes.body.errors.map((e: { path: string }) => e.path)).toEqual(['nodes']);
      expect(nodes.body.detail).toMatch(/^nodes: \d+ nodes, over the limit of 2 \(MAX_NODES\)/);
      // a model has no batch to split: its own parameters are what is too large
      const big = await register(small, { type: 'mlp', inputSize: 100, layers: [{ units: 100, activation: 'relu' }] });
      expectProblem(big, 413, 'LIMIT_EXCEEDED');
      expect(big.body.detail).toMatch(/over the limit of 1000 \(MAX_ELEMENTS\): use smaller parameters, or start the service with a larger MAX_ELEMENTS$/);
    } finally {
      await small.close();
    }
  });
});

describe('GET and DELETE /v1/models/{id}', () => {
  it('returns the spec as registered with its summary; forgets it on DELETE (204), then 404 MODEL_NOT_FOUND', async () => {
    const spec = scaled(2);
    const { body: reg } = await register(app, spec);
    const r = await get(app, `/v1/models/${reg.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ...reg, spec });
    // the spec as given registers to the same id
    expect((await register(app, r.body.spec)).status).toBe(200);

    expect((await del(app, `/v1/models/${reg.id}`)).status).toBe(204);
    expectProblem(await get(app, `/v1/models/${reg.id}`), 404, 'MODEL_NOT_FOUND');
    expectProblem(await del(app, `/v1/models/${reg.id}`), 404, 'MODEL_NOT_FOUND');
  });

  it('answers 400 for an id that is not sha256:<64 hex>', async () => {
    for (const id of ['abc', `sha256:${'A'.repeat(64)}`, `sha256:${'0'.repeat(63)}`, `md5:${'0'.repeat(64)}`]) {
      const r = await get(app, `/v1/models/${encodeURIComponent(id)}`);
      expectProblem(r, 400, 'INVALID_REQUEST');
      expectProblem(await del(app, `/v1/models/${encodeURIComponent(id)}`), 400, 'INVALID_REQUEST');
    }
  });
});

describe('compute routes by {ref}', () => {
  const routes: [string, Record<string, unknown>][] = [
    ['/v1/gradients', { ...twoWeight, options: { dtype: 'float64', returnOutputs: true, inputGradients: true } }],
    ['/v1/forward', twoWeight],
    ['/v1/gradcheck', twoWeight],
    ['/v1/explain', twoWeight],
    ['/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps: 3, options: { dtype: 'float64' } }],
  ];

  it.each(routes)('%s answers by ref exactly what it answers inline', async (url, body) => {
    const { body: reg } = await register(app, twoWeight.model);
    const inline = await post(app, url, body);
    expect(inline.status).toBe(200);
    const byRef = await post(app, url, { ...body, model: { ref: reg.id } }, { headers: { 'x-gradserve-model': reg.id } });
    expect(byRef.status).toBe(200);
    expect(untimed(byRef.body)).toEqual(untimed(inline.body));
  });

  it('gives an MLP the same gradients and initialized params by ref, for batches of different sizes and both dtypes', async () => {
    const { body: reg } = await register(app, xorMlp.model);
    for (const [inputs, targets] of [[xorMlp.inputs, xorMlp.targets], [xorMlp.inputs.slice(0, 3), xorMlp.targets.slice(0, 3)], [xorMlp.inputs, xorMlp.targets]]) {
      for (const dtype of ['float32', 'float64']) {
        const body = { ...xorMlp, inputs, targets, options: { dtype } };
        const inline = await post(app, '/v1/gradients', body);
        const byRef = await post(app, '/v1/gradients', { ...body, model: { ref: reg.id } });
        expect(byRef.status).toBe(200);
        expect(untimed(byRef.body)).toEqual(untimed(inline.body));
      }
    }
  });

  it('keeps a graph\'s constants right when its compiled plan is reused (the buffers of a request are recycled)', async () => {
    // buffers of 16 KiB and more are reused once a request is answered (engine/buffers.ts): a plan
    // holding the first request's constant would see it overwritten by the next requests' values
    const n = 4096;
    const k = Array.from({ length: n }, (_, i) => (i % 7) + 1);
    const { body: reg } = await register(app, { ...scaled(1), params: { w: { shape: [n] } }, constants: { k } });
    for (const dtype of ['float64', 'float32', 'float64']) {
      for (let round = 0; round < 3; round++) {
        const x = Array.from({ length: n }, (_, i) => ((i + round) % 5) - 2);
        const r = await post(app, '/v1/gradients', {
          model: { ref: reg.id },
          params: { w: Array.from({ length: n }, () => 1) },
          inputs: { x },
          options: { dtype, diagnostics: false },
        });
        expect(r.status).toBe(200);
        // L = Σ w·x·k: dL/dw = x·k
        expect(r.body.gradients.w).toEqual(x.map((v, i) => v * k[i]!));
      }
    }
  });

  it('reuses a worker\'s plan for the same shapes and compiles again for new ones, answering right both times', async () => {
    const { body: reg } = await register(app, scaled(5));
    const body = (n: number) => ({ model: { ref: reg.id }, params: { w: [1, 1] }, inputs: { x: Array.from({ length: n }, () => [1, 2]) } });
    const misses = await metric(app, 'gradserve_model_cache_misses_total', 'plans');
    const hits = await metric(app, 'gradserve_model_cache_hits_total', 'plans');
    // a small job of a known model goes without its spec: the worker has no plan yet (a miss), the
    // job goes again with the spec (a second miss, compiled)
    expect((await post(app, '/v1/gradients', body(1))).body.gradients.w).toEqual([5, 20]);
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(misses + 2);
    expect((await post(app, '/v1/gradients', body(1))).body.gradients.w).toEqual([5, 20]);
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'plans')).toBe(hits + 1);
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(misses + 2);
    expect((await post(app, '/v1/gradients', body(3))).body.gradients.w).toEqual([15, 60]);
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(misses + 4);
    expect((await post(app, '/v1/forward', body(3))).status).toBe(200);
  });

  it('stops leaving the spec out for a model whose shapes keep changing (each such job would go twice)', async () => {
    const { body: reg } = await register(app, scaled(7));
    const misses = await metric(app, 'gradserve_model_cache_misses_total', 'plans');
    for (let n = 1; n <= 10; n++) {
      const r = await post(app, '/v1/gradients', { model: { ref: reg.id }, params: { w: [1, 1] }, inputs: { x: Array.from({ length: n }, () => [1, 1]) } });
      expect(r.body.gradients.w).toEqual([7 * n, 14 * n]);
    }
    // the first four go without the spec and miss twice each; the next six go whole and miss once
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(misses + 4 * 2 + 6);
  });

  it('sends a large job of a known model with its spec: its tensors move to the worker and cannot go twice', async () => {
    const { body: reg } = await register(app, scaled(6));
    const n = 20_000; // 160 kB of float64 values: over the small-task bound, moved
    const body = { model: { ref: reg.id }, params: { w: [1, 1] }, inputs: { x: Array.from({ length: n }, () => [1, 2]) } };
    const misses = await metric(app, 'gradserve_model_cache_misses_total', 'plans');
    expect((await post(app, '/v1/gradients', body)).body.gradients.w).toEqual([6 * n, 24 * n]);
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(misses + 1);
  });

  it('answers every request right when several workers meet a known model with large base64 tensors at once', async () => {
    // base64 values this long are decoded from the body's bytes and their buffers moved to a worker:
    // a request must never need them again (a worker without the plan once got the job a second
    // time, decoded from moved buffers: 422 "decodes to 0 bytes")
    const two = await startApp({ workers: 2 });
    try {
      // heavy enough (a few ms each) that the pool spreads them over both workers
      const b64 = (rows: number, cols: number, seed: number) => {
        const a = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37 + seed));
        return { shape: [rows, cols], dtype: 'float32', base64: Buffer.from(a.buffer).toString('base64') };
      };
      const request = {
        model: { type: 'mlp', inputSize: 256, layers: [{ units: 256, activation: 'tanh' }, { units: 256 }] },
        inputs: b64(512, 256, 1),
        targets: b64(512, 256, 2),
        loss: { type: 'mse' },
      };
      const first = await post(two, '/v1/gradients', request);
      expect(first.status, first.raw).toBe(200);
      const answers = await Promise.all(Array.from({ length: 8 }, () => post(two, '/v1/gradients', request)));
      for (const a of answers) {
        expect(a.status, a.raw).toBe(200);
        expect(a.body.loss).toBe(first.body.loss);
      }
    } finally {
      await two.close();
    }
  });

  it('answers an unknown id with 404 MODEL_NOT_FOUND telling the client to register it again; a malformed ref is 400', async () => {
    const id = `sha256:${'e'.repeat(64)}`;
    for (const [url] of routes) {
      const r = await post(app, url, { ...twoWeight, model: { ref: id } });
      expectProblem(r, 404, 'MODEL_NOT_FOUND');
      expect(r.body.detail).toContain(id);
      expect(r.body.detail).toMatch(/register it again with POST \/v1\/models/);
      expect(r.body.errors).toEqual([{ path: 'model.ref', message: `no model ${id} on this instance` }]);
    }
    for (const model of [{ ref: 'sha256:1' }, { ref: 42 }, { ref: `sha256:${'e'.repeat(64)}`, type: 'graph' }]) {
      const r = await post(app, '/v1/gradients', { ...twoWeight, model });
      expectProblem(r, 400, 'INVALID_REQUEST');
      expect(r.body.errors[0].path).toMatch(/^model/);
    }
  });

  it('reports a request\'s own problems by ref as it does inline', async () => {
    const { body: reg } = await register(app, twoWeight.model);
    const wrong = { ...twoWeight, params: { w1: [1, 2], w2: -1.5 } };
    const inline = await post(app, '/v1/gradients', wrong);
    const byRef = await post(app, '/v1/gradients', { ...wrong, model: { ref: reg.id } });
    expectProblem(byRef, 422, 'INVALID_SPEC');
    expect(byRef.body.errors).toEqual(inline.body.errors);
  });
});

describe('the cache', () => {
  it('makes an inline spec known the first time, so a repeat skips the schema and it has an id', async () => {
    const spec = scaled(4);
    const body = { model: spec, params: { w: [1, 1] }, inputs: { x: [1, 1] } };
    const hits = await metric(app, 'gradserve_model_cache_hits_total', 'specs');
    expect((await post(app, '/v1/gradients', body)).status).toBe(200);
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'specs')).toBe(hits);
    expect((await post(app, '/v1/gradients', body)).body.gradients.w).toEqual([4, 8]);
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'specs')).toBe(hits + 1);
    // known under the id registration gives it
    const reg = await register(app, spec);
    expect(reg.status).toBe(200);
    // an inline spec the checks reject is not kept
    const bad = { ...body, model: { ...spec, nodes: [{ id: 'L', op: 'nope', inputs: [] }] } };
    const before = app.models.sizes.entries;
    expectProblem(await post(app, '/v1/gradients', bad), 422, 'INVALID_SPEC');
    expect(app.models.sizes.entries).toBe(before);
  });

  it('finds an inline spec again by its text, or by its id when written otherwise; an evicted or deleted one is not found', async () => {
    const small = await startApp({ modelCacheEntries: 1 });
    try {
      const spec = scaled(6);
      const body = (model: unknown) => ({ model, params: { w: [1, 1] }, inputs: { x: [1, 1] } });
      const hits = () => metric(small, 'gradserve_model_cache_hits_total', 'specs');
      expect((await post(small, '/v1/gradients', body(spec))).status).toBe(200);
      expect((await post(small, '/v1/gradients', body(spec))).body.gradients.w).toEqual([6, 12]);
      expect(await hits()).toBe(1);
      const reordered = { output: spec.output, nodes: spec.nodes, constants: spec.constants, params: spec.params, inputs: spec.inputs, type: spec.type };
      expect((await post(small, '/v1/gradients', body(reordered))).body.gradients.w).toEqual([6, 12]);
      expect(await hits()).toBe(2);
      // evicted by another model: its text no longer finds it
      expect((await register(small, scaled(7))).status).toBe(201);
      expect((await post(small, '/v1/gradients', body(spec))).body.gradients.w).toEqual([6, 12]);
      expect(await hits()).toBe(2);
      const id = (await register(small, spec)).body.id;
      expect((await del(small, `/v1/models/${id}`)).status).toBe(204);
      const before = await hits();
      expect((await post(small, '/v1/gradients', body(reordered))).status).toBe(200);
      expect(await hits()).toBe(before);
    } finally {
      await small.close();
    }
  });

  it('finds a spec a body opens with by the text its client wrote, spaces and all, before parsing it', async () => {
    const spec = scaled(8);
    // Python's json.dumps writes ", " and ": "
    const text = (params: string) => `{"model": ${JSON.stringify(spec, null, 1).replace(/\n/g, '')}, "params": ${params}, "inputs": {"x": [1, 1]}}`;
    const send = (payload: string) => post(app, '/v1/gradients', payload, { headers: { 'content-type': 'application/json' } });
    const hits = () => metric(app, 'gradserve_model_cache_hits_total', 'specs');
    expect((await send(text('{"w": [1, 1]}'))).body.gradients.w).toEqual([8, 16]);
    const before = await hits();
    // the model's text found, the rest parsed on its own: new params each time
    for (const w of [2, 3]) {
      const r = await send(text(`{"w": [${w}, 1]}`));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ loss: 8 * w + 16, gradients: { w: [8, 16] } });
    }
    expect(await hits()).toBe(before + 2);
    // the rest is still checked as a whole body is, its syntax errors placed in the whole body
    const broken = text('{"w": [1, 1]');
    const syntax = await send(broken);
    expectProblem(syntax, 400, 'INVALID_JSON');
    expect(syntax.body.detail).toContain((() => { try { JSON.parse(broken); } catch (e) { return (e as Error).message; } })());
    expectProblem(await send(text('{"w": [1, 1], "__proto__": {"x": 1}}')), 400, 'INVALID_JSON');
    const wrong = await send(text('{"w": [1, 1, 1]}'));
    expectProblem(wrong, 422, 'INVALID_SPEC');
    expect(wrong.body.errors[0].path).toBe('params.w');
    // a second "model" key wins, as JSON.parse has it
    for (const key of ['"model"', '"mod\\u0065l"']) {
      const twice = await send(text(`{"w": [1, 1]}, ${key}: ${JSON.stringify(scaled(9))}`));
      expect(twice.body.gradients.w).toEqual([9, 18]);
    }
  });

  it('evicts the least recently used model beyond MODEL_CACHE_ENTRIES, and counts it', async () => {
    const small = await startApp({ modelCacheEntries: 2 });
    try {
      const [a, b, c] = [scaled(10), scaled(11), scaled(12)];
      const ids = [];
      for (const s of [a, b]) ids.push((await register(small, s)).body.id);
      // using a makes b the least recent
      expect((await post(small, '/v1/forward', { model: { ref: ids[0] }, params: { w: [1, 1] }, inputs: { x: [1, 1] } })).status).toBe(200);
      ids.push((await register(small, c)).body.id);
      expect((await get(small, `/v1/models/${ids[0]}`)).status).toBe(200);
      expectProblem(await get(small, `/v1/models/${ids[1]}`), 404, 'MODEL_NOT_FOUND');
      expect((await get(small, `/v1/models/${ids[2]}`)).status).toBe(200);
      expect(await metric(small, 'gradserve_model_cache_evictions_total', 'specs')).toBe(1);
      expect(await metric(small, 'gradserve_model_cache_entries', 'specs')).toBe(2);
      const ready = await get(small, '/readyz');
      expect(ready.body.modelCache.specs).toMatchObject({ entries: 2, maxEntries: 2 });
      // the workers' plans are bounded alike: three models computed, two plans kept
      for (const id of ids.slice(1)) {
        if (id === ids[1]) await register(small, b);
        await post(small, '/v1/forward', { model: { ref: id }, params: { w: [1, 1] }, inputs: { x: [1, 1] } });
      }
      const plans = (await get(small, '/readyz')).body.modelCache.plans;
      expect(plans.entries).toBe(2);
      expect(plans.evictions).toBeGreaterThanOrEqual(1);
      expect(plans.misses).toBeGreaterThanOrEqual(3);
    } finally {
      await small.close();
    }
  });

  it('evicts by bytes beyond MODEL_CACHE_MB, and refuses a model larger than the bound alone (413)', async () => {
    const probe = await register(app, scaled(20));
    const bytes = app.models.peek(probe.body.id)!.bytes;
    // room for two such models, not three
    const small = await startApp({ modelCacheBytes: 2 * bytes + bytes / 2 });
    try {
      const ids = [];
      for (const k of [21, 22, 23]) ids.push((await register(small, scaled(k))).body.id);
      expectProblem(await get(small, `/v1/models/${ids[0]}`), 404, 'MODEL_NOT_FOUND');
      expect((await get(small, `/v1/models/${ids[2]}`)).status).toBe(200);
      expect(small.models.sizes.entries).toBe(2);
      expect(small.models.sizes.bytes).toBeLessThanOrEqual(2 * bytes + bytes / 2);
      const big = { ...scaled(1), constants: { k: Array.from({ length: 500 }, (_, i) => i) } };
      const over = await register(small, big);
      expectProblem(over, 413, 'LIMIT_EXCEEDED');
      // the model is the body: its path is empty, and the detail does not start with one
      expect(over.body.detail).toMatch(/^the model holds about \d+ bytes/);
    } finally {
      await small.close();
    }
  });

  it('drops the workers\' compiled plans of a deleted model, for every shape, and keeps the other models\'', async () => {
    const two = await startApp({ workers: 2, inPlaceFlops: 0 });
    try {
      const plans = () => readPlanStats(two.pool.planStats);
      const forward = (id: string, x: unknown) => post(two, '/v1/forward', { model: { ref: id }, params: { w: [1, 1] }, inputs: { x } });
      const [a, b] = [(await register(two, scaled(40))).body.id, (await register(two, scaled(41))).body.id];
      expect((await forward(b, [1, 1])).status).toBe(200);
      const withB = plans();
      for (const x of [[1, 1], [[1, 1], [2, 2]]]) expect((await forward(a, x)).status).toBe(200);
      expect(plans().entries).toBe(withB.entries + 2);

      expect((await del(two, `/v1/models/${a}`)).status).toBe(204);
      // each worker drops them between two batches, on its own; b's stays wherever it is
      await waitFor(() => plans().entries === withB.entries, 5000, "the deleted model's plans to go");
      expect(plans().bytes).toBe(withB.bytes);
      expect(plans().evictions).toBe(withB.evictions);
      // registered again, it is compiled again
      expect((await register(two, scaled(40))).status).toBe(201);
      expect((await forward(a, [1, 1])).status).toBe(200);
      expect(plans().entries).toBe(withB.entries + 1);
    } finally {
      await two.close();
    }
  });

  it('finishes a request whose model is evicted while it computes; the next request by that id gets 404', async () => {
    const small = await startApp({ modelCacheEntries: 1 });
    try {
      const { body: reg } = await register(small, twoWeight.model);
      // hold the task at the pool until the model is gone
      const run = small.pool.run.bind(small.pool);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const reached = new Promise<void>((resolve) => (started = resolve));
      small.pool.run = async (task, signal) => {
        started();
        await held;
        return run(task, signal);
      };
      const pending = post(small, '/v1/gradients', { ...twoWeight, model: { ref: reg.id } });
      await reached;
      small.pool.run = run;
      expect((await register(small, scaled(30))).status).toBe(201);
      expect(small.models.peek(reg.id)).toBeUndefined();
      release();
      const r = await pending;
      expect(r.status).toBe(200);
      expect(r.body.gradients).toEqual({ w1: 15, w2: -5 });
      expectProblem(await post(small, '/v1/gradients', { ...twoWeight, model: { ref: reg.id } }), 404, 'MODEL_NOT_FOUND');
    } finally {
      await small.close();
    }
  });

  it('hashes a spec\'s long base64 constants by their content: the same id for the same values, another for others', async () => {
    // base64 values this long are lifted out of the body before parsing (wire/json-body.ts), each
    // request's placeholders different: the id must still be the content's
    const n = 1024;
    const k = (v: number) => ({ shape: [n], dtype: 'float64', base64: Buffer.from(new Float64Array(n).fill(v).buffer).toString('base64') });
    const spec = (v: number) => ({ ...scaled(0), params: { w: { shape: [n] } }, constants: { k: k(v) } });
    const first = await register(app, spec(2));
    const again = await register(app, spec(2));
    const other = await register(app, spec(3));
    expect([first.status, again.status, other.status]).toEqual([201, 200, 201]);
    expect(again.body.id).toBe(first.body.id);
    expect(other.body.id).not.toBe(first.body.id);
    expect(first.body.id).toBe(`sha256:${createHash('sha256').update(canonicalJson(spec(2))!).digest('hex')}`);
    // inline, a repeat of such a spec is known; another value computes with its own constant
    const body = (v: number) => ({ model: spec(v), params: { w: Array(n).fill(1) }, inputs: { x: Array(n).fill(1) } });
    const hits = await metric(app, 'gradserve_model_cache_hits_total', 'specs');
    expect((await post(app, '/v1/gradients', body(2))).body.gradients.w[0]).toBe(2);
    expect((await post(app, '/v1/gradients', body(3))).body.gradients.w[0]).toBe(3);
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'specs')).toBe(hits + 2);
  });

  it('does not look up a model whose constants come in a safetensors body\'s data: each request computes with its own', async () => {
    const model = { ...scaled(0), constants: {} };
    const send = (v: number) =>
      app.inject({
        method: 'POST',
        url: '/v1/gradients',
        headers: { 'content-type': SAFETENSORS },
        payload: safetensors({ 'model/constants/k': { dtype: 'F64', shape: [2], values: [v, 2 * v] } }, { model, params: { w: [1, 1] }, inputs: { x: [1, 1] } }),
      });
    const entries = app.models.sizes.entries;
    for (const v of [4, 5, 4]) {
      const r = await send(v);
      expect(r.statusCode, r.body).toBe(200);
      expect(JSON.parse(r.body).gradients.w).toEqual([v, 2 * v]);
    }
    expect(app.models.sizes.entries).toBe(entries);
  });

  it('counts hits and misses in /metrics: specs on the event loop, plans in the workers', async () => {
    const { body: reg } = await register(app, scaled(40));
    const before = {
      specHits: await metric(app, 'gradserve_model_cache_hits_total', 'specs'),
      specMisses: await metric(app, 'gradserve_model_cache_misses_total', 'specs'),
      planHits: await metric(app, 'gradserve_model_cache_hits_total', 'plans'),
      planMisses: await metric(app, 'gradserve_model_cache_misses_total', 'plans'),
    };
    const body = { model: { ref: reg.id }, params: { w: [1, 1] }, inputs: { x: [1, 1] } };
    for (let i = 0; i < 3; i++) expect((await post(app, '/v1/gradients', body)).status).toBe(200);
    await post(app, '/v1/gradients', { ...body, model: { ref: `sha256:${'f'.repeat(64)}` } });
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'specs')).toBe(before.specHits + 3);
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'specs')).toBe(before.specMisses + 1);
    // one worker: the first request, sent without its spec, misses and goes again to compile; the next two reuse
    expect(await metric(app, 'gradserve_model_cache_misses_total', 'plans')).toBe(before.planMisses + 2);
    expect(await metric(app, 'gradserve_model_cache_hits_total', 'plans')).toBe(before.planHits + 2);
    const ready = (await get(app, '/readyz')).body.modelCache;
    expect(ready.specs.entries).toBe(app.models.sizes.entries);
    expect(ready.plans.entries).toBeGreaterThanOrEqual(1);
    expect(ready.plans.bytes).toBeGreaterThan(0);
  });

  it('asks another process of the replica for an unknown ref once, however many requests for it arrive meanwhile', async () => {
    const other = await startApp({ inPlaceFlops: 0 });
    try {
      let asked = 0;
      const spec = scaled(50);
      const canonical = canonicalJson(spec)!;
      const id = modelId(canonical);
      // what the primary holds for the processes of a replica (cluster.ts), answering after a while
      other.models.shared = {
        get: async (ref) => {
          asked++;
          await new Promise((r) => setTimeout(r, 50));
          return ref === id ? canonical : null;
        },
        put: async () => {},
        delete: async () => false,
      };
      const body = { model: { ref: id }, params: { w: [1, 1] }, inputs: { x: [1, 1] } };
      const answers = await Promise.all(Array.from({ length: 5 }, () => post(other, '/v1/gradients', body)));
      for (const a of answers) expect(a.status, a.raw).toBe(200);
      expect(asked).toBe(1);
      expect(other.models.sizes.entries).toBe(1);
      // known here now: no more questions
      expect((await post(other, '/v1/gradients', body)).status).toBe(200);
      expect(asked).toBe(1);
      // a ref nobody registered: asked again each time, 404
      const unknown = { ...body, model: { ref: `sha256:${'e'.repeat(64)}` } };
      expectProblem(await post(other, '/v1/gradients', unknown), 404, 'MODEL_NOT_FOUND');
      expectProblem(await post(other, '/v1/gradients', unknown), 404, 'MODEL_NOT_FOUND');
      expect(asked).toBe(3);
    } finally {
      await other.close();
    }
  });
});
