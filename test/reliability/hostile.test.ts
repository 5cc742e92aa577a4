import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, post, startApp, twoWeight } from '../routes/helpers.js';

// Hostile input through the real app and worker pool, default limits: each is a clear 4xx problem+json
// naming the field, found before anything big is allocated; never a 500, never a dead process.

let app: FastifyInstance;
beforeAll(async () => {
  app = await startApp({ workers: 1 });
});
afterAll(async () => {
  await app?.close();
});

const json = { headers: { 'content-type': 'application/json' } };
const graph = (nodes: unknown[], extra: Record<string, unknown> = {}) => ({
  model: { type: 'graph', inputs: ['x'], nodes, output: nodes.length > 0 ? (nodes[nodes.length - 1] as { id: string }).id : 'L', ...extra },
  inputs: { x: [1, 2] },
});

describe('tensor elements that are not numbers', () => {
  it('an object whose toString is not a function is a 400 at its path, not a TypeError', async () => {
    for (const bad of [{ toString: '' }, { valueOf: 1, toString: null }, { [Symbol.toPrimitive]: 1 }]) {
      const r = await post(app, '/v1/step', { params: { w: [1, bad] }, gradients: { w: [0.5, -0.5] }, optimizer: { type: 'sgd', lr: 0.1 } });
      expectProblem(r, 400, 'INVALID_REQUEST');
      expect(r.body.errors[0]).toEqual({ path: 'params.w[1]', message: 'expected a number, got an object' });
    }
    const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: [[1, { toString: '' }]], t: 1 } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors[0].path).toBe('inputs.x[0][1]');
  });
});

describe('NaN and ±Infinity computed from valid input', () => {
  // sum(log(x)) with x = [-1, 2]: log(-1) is NaN, as in PyTorch; JSON has no NaN, so it is written as
  // null (the schemas say so), with a non_finite warning where the route reports diagnostics.
  const logOfNegative = {
    model: { type: 'graph', inputs: ['x'], nodes: [{ id: 'a', op: 'log', inputs: ['x'] }, { id: 'L', op: 'sum', inputs: ['a'] }], output: 'L' },
    inputs: { x: [-1, 2] },
  };
  const withParam = {
    model: {
      type: 'graph',
      inputs: ['x'],
      params: { w: { shape: [2] } },
      nodes: [{ id: 'a', op: 'mul', inputs: ['w', 'x'] }, { id: 'b', op: 'log', inputs: ['a'] }, { id: 'L', op: 'sum', inputs: ['b'] }],
      output: 'L',
    },
    params: { w: [-1, 1] },
    inputs: { x: [1, 2] },
  };

  // the test app checks every response against its schema; production (below) skips that check
  for (const validateResponses of [true, false]) {
    it(`is null in JSON with a non_finite warning, never a 500 (validateResponses: ${validateResponses})`, async () => {
      const a = validateResponses ? app : await startApp({ workers: 1, validateResponses: false });
      try {
        const g = await post(a, '/v1/gradients', { ...logOfNegative, options: { returnOutputs: true, returnIntermediates: true, inputGradients: true } });
        expect(g.status).toBe(200);
        expect(g.body.loss).toBeNull();
        expect(g.body.outputs).toBeNull();
        expect(g.body.intermediates.a.value).toEqual([null, 0.6931472]); // ln 2 in float32, as its shortest decimal
        expect(g.body.inputGradients.x).toEqual([-1, 0.5]);
        expect(g.body.diagnostics.warnings.map((w: { code: string }) => w.code)).toContain('non_finite');

        const f = await post(a, '/v1/forward', logOfNegative);
        expect(f.status).toBe(200);
        expect(f.body.loss).toBeNull();

        const t = await post(a, '/v1/train', { ...withParam, optimizer: { type: 'sgd', lr: 0.1 }, steps: 2 });
        expect(t.status).toBe(200);
        expect(t.body.losses).toEqual([null, null]);

        // float32 overflow in an optimizer step: 1e38 + 1e10·1e38
        const s = await post(a, '/v1/step', { params: { w: 1e38 }, gradients: { w: -1e38 }, optimizer: { type: 'sgd', lr: 1e10 } });
        expect(s.status).toBe(200);
        expect(s.body.params.w).toBeNull();

        // base64 keeps the IEEE-754 bytes: NaN survives
        const b = await post(a, '/v1/gradients', { ...logOfNegative, options: { encoding: 'base64', returnIntermediates: true } });
        const bytes = Buffer.from(b.body.intermediates.a.value.base64, 'base64');
        expect(Number.isNaN(bytes.readFloatLE(0))).toBe(true);

        const gc = await post(a, '/v1/gradcheck', withParam);
        expect(gc.status).toBe(200);
        expect(gc.body.params.w.passed).toBe(false);
        expect(gc.body.params.w.nonFinite).toBeGreaterThan(0);

        const e = await post(a, '/v1/explain', withParam);
        expect(e.status).toBe(200);
        expect(e.body.loss).toBeNull();
      } finally {
        if (a !== app) await a.close();
      }
    });
  }
});

describe('JSON nested 100,000 deep', () => {
  // written by hand: JSON.stringify itself recurses
  const deepArray = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
  const deepObject = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
  const at = (body: unknown, value: string) => JSON.stringify(body).replace('"DEEP"', value);
  const sumWithAttr = (attrs: Record<string, unknown>) => graph([{ id: 'L', op: 'sum', inputs: ['x'], attrs }]);
  const mlpWith = (activation: unknown) => ({
    model: { type: 'mlp', inputSize: 2, layers: [{ units: 1, activation }] },
    inputs: [[1, 2]],
    targets: [[1]],
    loss: { type: 'mse' },
  });

  const cases: [string, string, string, number, string][] = [
    ['a tensor', '/v1/gradients', at({ ...twoWeight, inputs: { x: 'DEEP', t: 1 } }, deepArray), 422, 'inputs.x'],
    ['a parameter', '/v1/gradients', at({ ...twoWeight, params: { w1: 'DEEP', w2: 1 } }, deepArray), 422, 'params.w1'],
    ['an optimizer buffer', '/v1/step', at({ params: { w: 1 }, gradients: { w: 1 }, optimizer: { type: 'adam', state: { step: 1, state: { w: { exp_avg: 'DEEP' } } } } }, deepArray), 422, 'optimizer.state.state.w.exp_avg'],
    ['a shape', '/v1/gradients', at({ ...twoWeight, inputs: { x: { shape: 'DEEP', data: [1] }, t: 1 } }, deepArray), 400, 'inputs.x'],
    ['node inputs', '/v1/forward', at(graph([{ id: 'L', op: 'sum', inputs: 'DEEP' }]), deepArray), 400, 'model.nodes[0].inputs'],
    ['a known attribute (array)', '/v1/forward', at(sumWithAttr({ axes: 'DEEP' }), deepArray), 400, 'model.nodes[0].attrs.axes'],
    ['a known attribute (object)', '/v1/forward', at(sumWithAttr({ axes: 'DEEP' }), deepObject), 400, 'model.nodes[0].attrs.axes'],
    ['an unknown attribute', '/v1/forward', at(sumWithAttr({ extra: 'DEEP' }), deepArray), 400, 'model.nodes[0].attrs.extra'],
    ['an activation attribute', '/v1/gradients', at(mlpWith({ type: 'leaky_relu', negativeSlope: 'DEEP' }), deepArray), 400, 'model.layers[0].activation'],
    ['an unknown activation key', '/v1/gradients', at(mlpWith({ type: 'relu', extra: 'DEEP' }), deepObject), 400, 'model.layers[0].activation'],
    ['an unknown top-level key', '/v1/gradients', at({ ...twoWeight, extra: 'DEEP' }, deepObject), 400, 'extra'],
  ];
  for (const [where, url, body, status, path] of cases) {
    it(`in ${where}: ${status} at ${path}`, async () => {
      const r = await post(app, url, body, json);
      expectProblem(r, status, status === 400 ? 'INVALID_REQUEST' : 'INVALID_SPEC');
      expect(r.body.errors.some((e: { path: string }) => e.path.startsWith(path)), JSON.stringify(r.body.errors)).toBe(true);
    });
  }

  it('the whole body: 400', async () => {
    expectProblem(await post(app, '/v1/gradients', deepArray, json), 400, 'INVALID_REQUEST');
    expectProblem(await post(app, '/v1/gradients', deepObject, json), 400, 'INVALID_REQUEST');
  });
});

describe('unknown fields', () => {
  it('each is named at its own path, also at the top level', async () => {
    const r = await post(app, '/v1/gradients', { ...twoWeight, extra: 1, options: { dtype: 'float64', colour: 'red' } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: expect.stringMatching(/^unknown field "extra" \(allowed: model, params, inputs, /) },
        { path: 'options.colour', message: expect.stringMatching(/^unknown field "colour" \(allowed: dtype, encoding, /) },
      ]),
    );
  });
});

describe('a 300,000-node chain (14 MB of JSON)', () => {
  const N = 300_000;
  // w·x, then 299,998 negations, then a sum: dL/dw = (−1)^299998 · Σx = 3
  const chain = (node: (i: number) => Record<string, unknown> = () => ({})) => {
    const nodes: unknown[] = [{ id: 'n0', op: 'mul', inputs: ['w', 'x'] }];
    for (let i = 1; i < N - 1; i++) nodes.push({ id: `n${i}`, op: 'neg', inputs: [`n${i - 1}`], ...node(i) });
    nodes.push({ id: 'L', op: 'sum', inputs: [`n${N - 2}`] });
    return JSON.stringify({ model: { type: 'graph', inputs: ['x'], params: { w: { shape: [] } }, nodes, output: 'L' }, params: { w: 0.5 }, inputs: { x: [1, 2] } });
  };

  it('is over MAX_NODES (10,000): 413 at model.nodes, counted before the schema walks the nodes', async () => {
    const r = await post(app, '/v1/gradients', chain(), json);
    expectProblem(r, 413, 'LIMIT_EXCEEDED');
    expect(r.body.errors[0].path).toBe('model.nodes');
    expect(r.body.detail).toMatch(/300000 nodes, over the limit of 10000/);
    // nodes the schema would refuse (no op) still get the 413: the count came first
    const bad = await post(app, '/v1/forward', chain((i) => (i % 1000 === 0 ? { op: undefined } : {})), json);
    expectProblem(bad, 413, 'LIMIT_EXCEEDED');
  });

  it('an MLP of 100,000 layers: 413 at model.layers, before the schema walks them', async () => {
    const layers = Array.from({ length: 100_000 }, () => ({ units: 'not a number' }));
    const r = await post(app, '/v1/gradients', { model: { type: 'mlp', inputSize: 1, layers }, inputs: [[1]] });
    expectProblem(r, 413, 'LIMIT_EXCEEDED');
    expect(r.body.errors[0].path).toBe('model.layers');
  });

  it('runs when MAX_NODES allows it', async () => {
    const big = await startApp({ workers: 1, maxNodes: 400_000 });
    try {
      const r = await post(big, '/v1/gradients', chain(), json);
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
      expect(r.body.loss).toBe(1.5);
      expect(r.body.gradients.w).toBe(3);
    } finally {
      await big.close();
    }
  });
});

describe('huge declared sizes: 413 from the declared shapes, before anything is allocated', () => {
  // The messages quote MAX_ELEMENTS: the limit was checked on the declared sizes. (A failed allocation
  // would say "not enough memory" instead.)
  const mse = { targets: [[1]], loss: { type: 'mse' } };
  const cases: [string, string, unknown, string][] = [
    ['an MLP 1e9 units wide', '/v1/gradients', { model: { type: 'mlp', inputSize: 2, layers: [{ units: 1e9 }, { units: 1 }] }, inputs: [[1, 2]], ...mse }, 'model'],
    ['an MLP with inputSize 1e9 (flat)', '/v1/gradients', { model: { type: 'mlp', inputSize: 1e9, layers: [{ units: 1 }] }, inputs: { shape: [1, 1e9], data: [] }, ...mse }, 'inputs'],
    ['an MLP with inputSize 1e9 (base64)', '/v1/forward', { model: { type: 'mlp', inputSize: 1e9, layers: [{ units: 1 }] }, inputs: { shape: [1, 1e9], dtype: 'float64', base64: '' } }, 'inputs'],
    ['a parameter of 1e10 elements', '/v1/gradients', { model: { type: 'graph', params: { w: { shape: [1e5, 1e5] } }, nodes: [{ id: 'L', op: 'sum', inputs: ['w'] }], output: 'L' }, inputs: {} }, 'model'],
    ['a parameter of 2^124 elements', '/v1/gradients', { model: { type: 'graph', params: { w: { shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1] } }, nodes: [{ id: 'L', op: 'sum', inputs: ['w'] }], output: 'L' }, inputs: {} }, 'model'],
    ['an input of 2^62 elements', '/v1/forward', { ...twoWeight, inputs: { x: { shape: [2 ** 31 - 1, 2 ** 31 - 1], data: [] }, t: 1 } }, 'inputs.x'],
    ['a broadcast to 1e10 elements', '/v1/forward', { model: { type: 'graph', inputs: ['x', 'y'], nodes: [{ id: 'L', op: 'add', inputs: ['x', 'y'] }], output: 'L' }, inputs: { x: { shape: [100_000, 1], data: new Array(100_000).fill(1) }, y: { shape: [1, 100_000], data: new Array(100_000).fill(1) } } }, 'model'],
    ['an optimizer buffer of 1e12 elements', '/v1/step', { params: { w: 1 }, gradients: { w: 1 }, optimizer: { type: 'adam', state: { step: 1, state: { w: { exp_avg: { shape: [1e6, 1e6], data: [] } } } } } }, 'optimizer.state.state.w.exp_avg'],
  ];
  for (const [what, url, body, path] of cases) {
    it(`${what}: 413 at ${path}`, async () => {
      const t0 = performance.now();
      const r = await post(app, url, body);
      expectProblem(r, 413, 'LIMIT_EXCEEDED');
      expect(r.body.errors[0].path).toBe(path);
      expect(r.body.detail).toMatch(/limit of 4000000/);
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  }
  it('a shape dimension past 2^31 − 1 is a 400 at that dimension', async () => {
    const r = await post(app, '/v1/forward', { ...twoWeight, inputs: { x: { shape: [1e300], data: [] }, t: 1 } });
    expectProblem(r, 400, 'INVALID_REQUEST');
    expect(r.body.errors[0].path).toBe('inputs.x.shape[0]');
  });
});

describe('__proto__, constructor, prototype and other Object.prototype names', () => {
  it('as a param, input or node id: 400 at the id (reserved)', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const asParam = await post(app, '/v1/gradients', { model: { type: 'graph', inputs: ['x'], params: { [name]: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: [name, 'x'] }], output: 'L' }, inputs: { x: 2 } });
      // "__proto__" as a JSON key is refused by the JSON parser itself (prototype poisoning)
      expect(asParam.status).toBe(400);
      const asInput = await post(app, '/v1/forward', { model: { type: 'graph', inputs: [name], nodes: [{ id: 'L', op: 'neg', inputs: [name] }], output: 'L' }, inputs: {} });
      expectProblem(asInput, 400, 'INVALID_REQUEST');
      expect(asInput.body.errors.map((e: { path: string }) => e.path)).toContain('model.inputs[0]');
      const asNode = await post(app, '/v1/forward', graph([{ id: name, op: 'neg', inputs: ['x'] }]));
      expectProblem(asNode, 400, 'INVALID_REQUEST');
      expect(asNode.body.errors.map((e: { path: string }) => e.path)).toContain('model.nodes[0].id');
    }
  });

  it('as JSON keys: __proto__ anywhere is 400 malformed JSON; constructor.prototype too', async () => {
    const text = JSON.stringify(twoWeight);
    for (const body of [
      text.replace('"w1":0.5', '"__proto__":{"w1":1},"w1":0.5'),
      text.replace('"x":2', '"x":{"__proto__":[1],"shape":[],"data":[2]}'),
      text.replace('"w1":0.5', '"constructor":{"prototype":{"polluted":1}},"w1":0.5'),
      // the key written with escapes, and spaces before its colon: the parser looks past both
      text.replace('"w1":0.5', '"\\u005f_pro\\u0074o__" \n :{"w1":1},"w1":0.5'),
      text.replace('"w1":0.5', '"\\u0063onstructor":{"prototype":{"polluted":1}},"w1":0.5'),
    ]) {
      expectProblem(await post(app, '/v1/gradients', body, json), 400, 'INVALID_JSON');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('constructor as a params or inputs key is an unknown name (422), not Object.prototype.constructor', async () => {
    const p = await post(app, '/v1/gradients', { ...twoWeight, params: { w1: 0.5, w2: -1.5, constructor: 1 } });
    expectProblem(p, 422, 'INVALID_SPEC');
    expect(p.body.errors[0].path).toBe('params.constructor');
    const i = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: 2, t: 1, constructor: [3] } });
    expectProblem(i, 422, 'INVALID_SPEC');
    expect(i.body.errors[0].path).toBe('inputs.constructor');
  });

  it('toString, valueOf and hasOwnProperty are ordinary names that compute correctly', async () => {
    const model = {
      type: 'graph',
      inputs: ['hasOwnProperty'],
      params: { toString: { shape: [] } },
      nodes: [{ id: 'valueOf', op: 'mul', inputs: ['toString', 'hasOwnProperty'] }, { id: 'L', op: 'sum', inputs: ['valueOf'] }],
      output: 'L',
    };
    const r = await post(app, '/v1/gradients', { model, params: { toString: 3 }, inputs: { hasOwnProperty: [1, 2] } });
    expect(r.status).toBe(200);
    expect(r.body.loss).toBe(9);
    expect(r.body.gradients).toEqual({ toString: 3 });
    // a declared parameter named toString left out is initialized, not taken from Object.prototype
    const init = await post(app, '/v1/gradients', { model, inputs: { hasOwnProperty: [1, 2] } });
    expect(init.status).toBe(200);
    expect(typeof init.body.params.toString).toBe('number');
    // the same for the optimizer's per-parameter state
    const s = await post(app, '/v1/step', { params: { toString: 1 }, gradients: { toString: 1 }, optimizer: { type: 'adam', lr: 0.1 } });
    expect(s.status).toBe(200);
    expect(s.body.params.toString).toBeCloseTo(0.9, 6);
  });
});

describe('bad tensor bytes and values', () => {
  const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer).toString('base64');
  const f64 = (xs: number[]) => Buffer.from(new Float64Array(xs).buffer).toString('base64');

  it('NaN and ±Inf in base64: 422 at the base64 field, naming the element', async () => {
    for (const [dtype, b64] of [['float32', f32([1, NaN])], ['float64', f64([Infinity, 1])], ['float32', f32([1, -Infinity])]] as const) {
      const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], dtype, base64: b64 }, t: 1 } });
      expectProblem(r, 422, 'INVALID_SPEC');
      expect(r.body.errors[0].path).toBe('inputs.x.base64');
      expect(r.body.errors[0].message).toMatch(/element \d is not finite/);
    }
  });

  it('base64 of the wrong length, or not base64: 422 at the base64 field', async () => {
    for (const base64 of [f32([1]), f32([1, 2, 3]), `${f32([1, 2])}AA`, '!!!!!!!!!!!!', '']) {
      const r = await post(app, '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], dtype: 'float32', base64 }, t: 1 } });
      expectProblem(r, 422, 'INVALID_SPEC');
      expect(r.body.errors[0].path).toBe('inputs.x.base64');
    }
  });

  // Values of 4,096 characters or more are cut out of the body's bytes and decoded before JSON.parse
  // (src/wire/json-body.ts): the same answers must come out of that path.
  describe('in base64 values long enough to be decoded from the body\'s bytes', () => {
    const n = 4096; // 16,384 bytes, 21,848 characters
    const good = f32(Array.from({ length: n }, (_, i) => i / 7));
    const x = (b64: string) => ({ ...twoWeight, inputs: { x: { shape: [n], dtype: 'float32', base64: b64 }, t: { shape: [n], dtype: 'float32', base64: good } } });
    const at = (i: number, c: string) => good.slice(0, i) + c + good.slice(i + 1);
    const raw = (text: string) => app.inject({ method: 'POST', url: '/v1/gradients', ...json, payload: text });

    it('NaN, ±Inf, the wrong length, characters outside the alphabet anywhere: 422 at the base64 field', async () => {
      const withNaN = f32(Array.from({ length: n }, (_, i) => (i === 3000 ? NaN : i)));
      const bad = [withNaN, good.slice(0, -4), `${good}AAAA`, at(10, '!'), at(65, '='), at(20_000, 'é'), at(5, '\\"'), at(9, '\\u0041')];
      for (const b64 of bad) {
        const r = await post(app, '/v1/gradients', x(b64));
        expectProblem(r, 422, 'INVALID_SPEC');
        expect(r.body.errors[0].path).toBe('inputs.x.base64');
      }
      const r = await post(app, '/v1/gradients', x(withNaN));
      expect(r.body.errors[0].message).toBe('element 3000 is not finite (NaN)');
      // and the body they were made from computes
      const ok = await post(app, '/v1/gradients', x(good));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    });

    it('any one byte of the body changed: an answer or a 4xx problem+json, never a 5xx', async () => {
      const text = Buffer.from(JSON.stringify(x(good)));
      const start = text.indexOf('"base64"');
      await fc.assert(
        fc.asyncProperty(fc.nat(text.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (i, byte, nearValue) => {
          // half the changes land around the value's key and quotes, where the parser decides what to cut
          const where = nearValue ? start - 4 + (i % 16) : i;
          const body = Buffer.from(text);
          body[where] = byte;
          const r = await raw(body.toString('latin1'));
          expect(r.statusCode, r.body.slice(0, 300)).toBeLessThan(500);
          if (r.statusCode >= 400) expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
        }),
        { numRuns: 60 },
      );
    });
  });

  it('1e999 (Infinity once parsed) in a tensor: 422 at the element', async () => {
    const body = JSON.stringify({ ...twoWeight, inputs: { x: [1, 'INF'], t: 1 } }).replace('"INF"', '-1e999');
    const r = await post(app, '/v1/gradients', body, json);
    expectProblem(r, 422, 'INVALID_SPEC');
    expect(r.body.errors[0]).toEqual({ path: 'inputs.x[1]', message: 'not a finite number: -Infinity' });
  });

  const classifier = (loss: string, targets: unknown) => ({
    model: { type: 'mlp', inputSize: 2, layers: [{ units: 3 }] },
    inputs: [[1, 2], [3, 4]],
    targets,
    loss: { type: loss },
  });
  it('class targets out of range or not integers: 422 at targets', async () => {
    for (const loss of ['cross_entropy', 'nll']) {
      // 1e300, beyond float32 (the computation's dtype), is refused at the element before any op reads it
      const cases = [[[0, 3], 'targets', /out of range/], [[-1, 0], 'targets', /out of range/], [[0, 1.5], 'targets', /not an integer/], [[1e300, 0], 'targets[0]', /beyond the range of float32/]] as const;
      for (const [targets, path, message] of cases) {
        const r = await post(app, '/v1/gradients', classifier(loss, targets));
        expectProblem(r, 422, 'INVALID_SPEC');
        expect(r.body.errors[0].path).toBe(path);
        expect(r.body.errors[0].message).toMatch(message);
      }
    }
  });
});

describe('route limits', () => {
  it('/v1/train with more than 1,000,000 steps: 400 at steps', async () => {
    for (const steps of [1e12, 1_000_001, 0, 2.5]) {
      const r = await post(app, '/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps });
      expectProblem(r, 400, 'INVALID_REQUEST');
      expect(r.body.errors[0].path).toBe('steps');
    }
  });

  it('/v1/gradcheck maxElementsPerParam past 4096, eps ≤ 0: 400 at the field', async () => {
    for (const [gradcheck, path] of [[{ maxElementsPerParam: 1e9 }, 'gradcheck.maxElementsPerParam'], [{ maxElementsPerParam: 0 }, 'gradcheck.maxElementsPerParam'], [{ eps: 0 }, 'gradcheck.eps'], [{ eps: 10 }, 'gradcheck.eps']] as const) {
      const r = await post(app, '/v1/gradcheck', { ...twoWeight, gradcheck });
      expectProblem(r, 400, 'INVALID_REQUEST');
      expect(r.body.errors[0].path).toBe(path);
    }
  });

  it('/v1/explain over its own limits (64 nodes, 4096 elements, 65,536 Jacobian entries): 413', async () => {
    const chain = Array.from({ length: 65 }, (_, i) => ({ id: `n${i}`, op: 'neg', inputs: [i === 0 ? 'x' : `n${i - 1}`] }));
    const nodes = await post(app, '/v1/explain', { model: { type: 'graph', inputs: ['x'], nodes: [...chain, { id: 'L', op: 'sum', inputs: ['n64'] }], output: 'L' }, inputs: { x: 1 } });
    expectProblem(nodes, 413, 'LIMIT_EXCEEDED');
    expect(nodes.body.errors[0].path).toBe('model.nodes');
    const elements = await post(app, '/v1/explain', { model: { type: 'graph', inputs: ['x'], nodes: [{ id: 'L', op: 'sum', inputs: ['x'] }], output: 'L' }, inputs: { x: new Array(5000).fill(1) } });
    expectProblem(elements, 413, 'LIMIT_EXCEEDED');
    const jacobian = await post(app, '/v1/explain', { model: { type: 'graph', inputs: ['x'], nodes: [{ id: 'a', op: 'softmax', inputs: ['x'] }, { id: 'L', op: 'sum', inputs: ['a'] }], output: 'L' }, inputs: { x: new Array(1000).fill(1) } });
    expectProblem(jacobian, 413, 'LIMIT_EXCEEDED');
    expect(jacobian.body.detail).toMatch(/Jacobian/);
  });
});
