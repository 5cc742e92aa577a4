import fc from 'fast-check';

// Generators of small valid requests: random graphs over smooth ops (so central differences are a
// fair check everywhere) listed in random order, and random MLPs. Values stay within a few units so
// every loss is finite.

export interface FlatTensor {
  shape: number[];
  data: number[];
}

export interface ValidCase {
  /** the request body for /v1/gradients (float64, flat encoding) */
  body: Record<string, unknown>;
  /** parameter values to send, or undefined: the service initializes them (MLPs) */
  params?: Record<string, FlatTensor>;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/**
 * n values in (-1.5, 1.5) from a seed. Not fc.double: it favours 0 and repeated values, where a
 * LayerNorm row has zero variance and finite differences of step 1e-5 meet curvature of order
 * 1/√eps³, so they stop being a fair reference.
 */
const values = (n: number) =>
  fc.nat().map((seed) => {
    let a = seed >>> 0;
    return Array.from({ length: n }, () => {
      // mulberry32
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return 3 * (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) - 1.5;
    });
  });

const UNARY = ['tanh', 'sigmoid', 'sin', 'cos', 'softplus', 'gelu', 'gelu_tanh', 'silu', 'square', 'neg', 'softsign', 'elu'] as const;
const BINARY = ['add', 'sub', 'mul'] as const;

/** One step of the graph builder, chosen by the generator; resolved against the values built so far. */
type Step =
  | { kind: 'unary'; op: (typeof UNARY)[number]; a: number }
  | { kind: 'binary'; op: (typeof BINARY)[number]; a: number; b: number }
  | { kind: 'div'; a: number; b: number }
  | { kind: 'matmul'; a: number }
  | { kind: 'softmax'; op: 'softmax' | 'log_softmax'; a: number }
  | { kind: 'linear'; a: number }
  | { kind: 'layernorm'; a: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('unary' as const), op: fc.constantFrom(...UNARY), a: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('binary' as const), op: fc.constantFrom(...BINARY), a: fc.nat(), b: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('div' as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('matmul' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('softmax' as const), op: fc.constantFrom('softmax' as const, 'log_softmax' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('linear' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('layernorm' as const), a: fc.nat() }) },
);

type Node = { id: string; op: string; inputs: (string | number)[]; attrs?: Record<string, unknown> };

/** A graph on x [B, D] with parameters of shapes [B, D], [D], [D, D] and [], reduced to a scalar loss. */
export const randomGraph: fc.Arbitrary<ValidCase> = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    D: fc.integer({ min: 1, max: 3 }),
    steps: fc.array(step, { minLength: 1, maxLength: 7 }),
    end: fc.constantFrom('sum', 'mean', 'logsumexp', 'mse_loss', 'cross_entropy_loss'),
    order: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    seed: fc.nat(),
  })
  .chain(({ B, D, steps, end, order, seed }) =>
    fc
      .record({
        x: values(B * D),
        t: values(B * D),
        classes: fc.array(fc.integer({ min: 0, max: D - 1 }), { minLength: B, maxLength: B }),
        P: values(B * D),
        v: values(D),
        W: values(D * D),
        s: values(1),
      })
      .map((vals) => buildGraph(B, D, steps, end, order, seed, vals)),
  );

function buildGraph(
  B: number,
  D: number,
  steps: Step[],
  end: string,
  order: number[],
  seed: number,
  vals: Record<'x' | 't' | 'P' | 'v' | 'W' | 's', number[]> & { classes: number[] },
): ValidCase {
  const paramShapes: Record<string, number[]> = { P: [B, D], v: [D], W: [D, D], s: [] };
  const used = new Set<string>();
  const nodes: Node[] = [];
  // values of shape [B, D] available as operands; parameters of other shapes broadcast into them
  const bd: string[] = ['x', 'P'];
  const broadcastable = ['v', 's'];
  const ref = (i: number, pool: string[]) => {
    const id = pool[i % pool.length]!;
    if (id in paramShapes) used.add(id);
    return id;
  };
  const emit = (op: string, inputs: (string | number)[], attrs?: Record<string, unknown>) => {
    const id = `n${nodes.length}`;
    nodes.push({ id, op, inputs, ...(attrs ? { attrs } : {}) });
    bd.push(id);
    return id;
  };
  for (const s of steps) {
    if (s.kind === 'unary') emit(s.op, [ref(s.a, bd)]);
    else if (s.kind === 'binary') emit(s.op, [ref(s.a, bd), ref(s.b, [...bd, ...broadcastable])]);
    else if (s.kind === 'div') {
      // a denominator kept ≥ 1: a / (b² + 1)
      const sq = emit('square', [ref(s.b, bd)]);
      const den = emit('add', [sq, 1]);
      emit('div', [ref(s.a, bd), den]);
    } else if (s.kind === 'matmul') emit('matmul', [ref(s.a, bd), ref(0, ['W'])]);
    else if (s.kind === 'softmax') emit(s.op, [ref(s.a, bd)], { axis: -1 });
    else if (s.kind === 'linear') emit('linear', [ref(s.a, bd), ref(0, ['W']), ref(0, ['v'])]);
    else if (D >= 2) emit('layernorm', [ref(s.a, bd)], { axis: -1 });
  }
  const last = bd[bd.length - 1]!;
  if (last === 'x' || last === 'P') used.add('P');
  const inputs: Record<string, FlatTensor> = { x: { shape: [B, D], data: vals.x } };
  if (end === 'mse_loss') {
    inputs.t = { shape: [B, D], data: vals.t };
    nodes.push({ id: 'L', op: 'mse_loss', inputs: [last, 't'] });
  } else if (end === 'cross_entropy_loss') {
    inputs.t = { shape: [B], data: vals.classes };
    nodes.push({ id: 'L', op: 'cross_entropy_loss', inputs: [last, 't'] });
  } else {
    nodes.push({ id: 'L', op: end, inputs: [last] });
  }
  used.add('P'); // at least one parameter, even when the chain never reads one
  const params: Record<string, FlatTensor> = {};
  const declared: Record<string, { shape: number[] }> = {};
  for (const name of used) {
    const shape = paramShapes[name]!;
    declared[name] = { shape };
    params[name] = { shape, data: vals[name as 'P' | 'v' | 'W' | 's'].slice(0, size(shape)) };
  }
  // the nodes in a shuffled order: the service must sort them itself
  const shuffled = nodes.map((n, i) => ({ n, k: order[i % order.length]! * 1000 + ((i * 7919 + seed) % 997) }));
  shuffled.sort((a, b) => a.k - b.k);
  return {
    body: {
      model: { type: 'graph', inputs: Object.keys(inputs), params: declared, nodes: shuffled.map((s) => s.n), output: 'L' },
      inputs,
      options: { dtype: 'float64', encoding: 'flat' },
    },
    params,
  };
}

const ACTIVATIONS = ['identity', 'tanh', 'sigmoid', 'gelu', 'gelu_tanh', 'silu', 'softplus', 'softsign', 'elu'] as const;

/** A random MLP whose parameters the service initializes from a random seed. */
export const randomMlp: fc.Arbitrary<ValidCase> = fc
  .record({
    inputSize: fc.integer({ min: 1, max: 3 }),
    batch: fc.integer({ min: 1, max: 3 }),
    layers: fc.array(fc.record({ units: fc.integer({ min: 1, max: 4 }), activation: fc.constantFrom(...ACTIVATIONS) }), { minLength: 1, maxLength: 3 }),
    bias: fc.boolean(),
    norm: fc.constantFrom('none', 'layernorm'),
    residual: fc.boolean(),
    scheme: fc.constantFrom('default', 'xavier_uniform', 'he_normal', 'lecun_normal'),
    seed: fc.nat({ max: 1_000_000 }),
    classify: fc.boolean(),
  })
  .chain((m) => {
    // LayerNorm over a single unit outputs its bias whatever the input: the next layer then sees a
    // constant row, the zero-variance point where finite differences are no fair reference
    if (m.norm === 'layernorm') m.layers = m.layers.map((l, i) => (i < m.layers.length - 1 ? { ...l, units: Math.max(2, l.units) } : l));
    const out = m.layers[m.layers.length - 1]!.units;
    const classify = m.classify && out >= 2;
    return fc
      .record({
        x: values(m.batch * m.inputSize),
        t: classify
          ? fc.array(fc.integer({ min: 0, max: out - 1 }), { minLength: m.batch, maxLength: m.batch })
          : values(m.batch * out),
      })
      .map(({ x, t }) => ({
        body: {
          model: {
            type: 'mlp',
            inputSize: m.inputSize,
            layers: m.layers,
            bias: m.bias,
            norm: m.norm,
            residual: m.residual,
            init: { scheme: m.scheme, seed: m.seed },
          },
          inputs: { shape: [m.batch, m.inputSize], data: x },
          targets: classify ? { shape: [m.batch], data: t } : { shape: [m.batch, out], data: t },
          loss: { type: classify ? 'cross_entropy' : 'mse' },
          options: { dtype: 'float64', encoding: 'flat' },
        },
      }));
  });
