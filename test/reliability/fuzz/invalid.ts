import fc from 'fast-check';
import { parseJsonBody } from '../../../src/wire/json-body.js';
import { clone, SEEDS, type Seed } from './seeds.js';
import { allPaths, deleteAt, formatPath, getAt, setAt, type Path } from './json-path.js';

// Generators of requests that are invalid by construction: a valid seed with one targeted mutation,
// and what the service must answer (status, and the field an error must name).

export interface Expect {
  statuses: number[];
  /** an error's path must be related to this field (see json-path `related`); undefined = no field (e.g. bad JSON) */
  field?: string;
  /** an error's message must match */
  message?: RegExp;
}

export interface Case {
  kind: string;
  url: string;
  /** the body, sent as JSON */
  body: unknown;
  /** pairs [placeholder, replacement] applied to the JSON text: for what JSON.stringify cannot write (1e999) */
  rawReplace?: [string, string];
  expect: Expect;
}

const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/).map((s) => `zz_${s}`);
const graphSeeds = SEEDS.filter((s) => (s.body.model as { type?: string } | undefined)?.type === 'graph');
const modelSeeds = SEEDS.filter((s) => s.body.model !== undefined);

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

function nodesOf(seed: Seed): { id: string; op: string; inputs: (string | number)[]; attrs?: Record<string, unknown> }[] {
  return (seed.body.model as { nodes: never[] }).nodes;
}

/** Where each request tensor of a body sits, with its encoding. */
function tensorPaths(body: Record<string, unknown>): { path: Path; enc: 'nested' | 'flat' | 'base64' }[] {
  const out: { path: Path; enc: 'nested' | 'flat' | 'base64' }[] = [];
  const add = (path: Path) => {
    const t = getAt(body, path);
    if (t === undefined) return;
    const enc = typeof t === 'object' && t !== null && !Array.isArray(t) ? ('base64' in t ? 'base64' : 'flat') : 'nested';
    out.push({ path, enc });
  };
  const addMap = (path: Path) => {
    const m = getAt(body, path);
    if (m && typeof m === 'object' && !Array.isArray(m)) for (const k of Object.keys(m)) add([...path, k]);
  };
  const model = body.model as { type?: string } | undefined;
  if (model?.type === 'graph') {
    addMap(['inputs']);
    addMap(['model', 'constants']);
  } else if (model) add(['inputs']);
  addMap(['params']);
  addMap(['gradients']);
  add(['targets']);
  return out;
}

const mk = (kind: string, seed: Seed, body: unknown, expect: Expect, rawReplace?: [string, string]): Case => ({
  kind,
  url: seed.url,
  body,
  expect,
  ...(rawReplace ? { rawReplace } : {}),
});

const unknownOp = fc.record({ s: fc.nat(), i: fc.nat(), name: ident }).map(({ s, i, name }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  const k = i % nodesOf(seed).length;
  setAt(body, ['model', 'nodes', k, 'op'], name);
  return mk('unknown op', seed, body, { statuses: [422], field: `model.nodes[${k}].op`, message: /unknown op/ });
});

const unknownRef = fc.record({ s: fc.nat(), i: fc.nat(), j: fc.nat(), name: ident }).map(({ s, i, j, name }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  const k = i % nodesOf(seed).length;
  const m = j % nodesOf(seed)[k]!.inputs.length;
  setAt(body, ['model', 'nodes', k, 'inputs', m], name);
  return mk('unknown reference', seed, body, { statuses: [422], field: `model.nodes[${k}].inputs[${m}]` });
});

/** Every seed graph feeds all its nodes into the output, so pointing any node at the output closes a cycle. */
const cycle = fc.record({ s: fc.nat(), i: fc.nat() }).map(({ s, i }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  const nodes = nodesOf(seed);
  const k = i % nodes.length;
  const output = (seed.body.model as { output: string }).output;
  const firstNodeInput = nodes[k]!.inputs.findIndex((x) => typeof x === 'string');
  setAt(body, ['model', 'nodes', k, 'inputs', Math.max(0, firstNodeInput)], output);
  return mk('cycle', seed, body, { statuses: [422], field: `model.nodes`, message: /cycle/ });
});

const duplicateId = fc.record({ s: fc.nat(), i: fc.nat(), j: fc.nat() }).map(({ s, i, j }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  const n = nodesOf(seed).length;
  const a = i % n;
  const b = (a + 1 + (j % (n - 1))) % n;
  setAt(body, ['model', 'nodes', b, 'id'], nodesOf(seed)[a]!.id);
  return mk('duplicate node id', seed, body, { statuses: [422], field: 'model.nodes' });
});

/** JSON the body parser turns away before any field is looked at (a `__proto__` key, constructor.prototype): a 400 INVALID_JSON. */
const poisoned = (v: unknown) => {
  try {
    parseJsonBody(Buffer.from(JSON.stringify(v)));
    return false;
  } catch {
    return true;
  }
};

const attrValue = fc.jsonValue({ maxDepth: 2 }).filter((v) => !poisoned(v));

const unknownAttr = fc.record({ s: fc.nat(), i: fc.nat(), name: ident, v: attrValue }).map(({ s, i, name, v }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  const k = i % nodesOf(seed).length;
  setAt(body, ['model', 'nodes', k, 'attrs'], { ...(nodesOf(seed)[k]!.attrs ?? {}), [name]: v });
  return mk('unknown attribute', seed, body, { statuses: [422], field: `model.nodes[${k}].attrs.${name}` });
});

/** Attributes of the seeds with a value of the wrong type for each. */
const attrNodes = graphSeeds.flatMap((seed) =>
  nodesOf(seed).flatMap((n, k) => Object.keys(n.attrs ?? {}).map((a) => ({ seed, k, a }))),
);
const badAttr = fc
  .record({ i: fc.nat(), v: fc.nat() })
  .map(({ i, v }) => {
    const { seed, k, a } = pick(attrNodes, i);
    const body = clone(seed.body);
    const old = getAt(body, ['model', 'nodes', k, 'attrs', a]);
    const jsonType = (x: unknown) => (Array.isArray(x) ? 'array' : x === null ? 'null' : typeof x);
    const others = ['x', null, { a: 1 }, [[1]], true, 1e300].filter((x) => jsonType(x) !== jsonType(old));
    setAt(body, ['model', 'nodes', k, 'attrs', a], pick(others, v));
    return mk('bad attribute value', seed, body, { statuses: [422], field: `model.nodes[${k}]` });
  });

/** A leaf replaced by a value of another JSON type. */
const wrongType = fc
  .record({ s: fc.nat(), p: fc.nat(), r: fc.nat() })
  .map(({ s, p, r }) => {
    const seed = pick(SEEDS, s);
    const body = clone(seed.body);
    const leaves = allPaths(body).filter((path) => {
      const v = getAt(body, path);
      return v === null || typeof v !== 'object';
    });
    const path = pick(leaves, p);
    const v = getAt(body, path);
    // a string id and a number are both valid node inputs, so strings never become numbers (nor the reverse)
    const others: unknown[] =
      typeof v === 'string' ? [true, null, { a: 1 }] : typeof v === 'number' ? ['1', true, null, { a: 1 }] : ['yes', 1, null];
    setAt(body, path, pick(others, r));
    return mk('wrong type', seed, body, { statuses: [400, 422], field: formatPath(path) });
  });

/** Fields the schemas require, per seed, that exist in the seed. */
function requiredPaths(seed: Seed): Path[] {
  const b = seed.body;
  const out: Path[] = [];
  const top: Record<string, string[]> = {
    '/v1/step': ['params', 'gradients', 'optimizer'],
    '/v1/train': ['model', 'inputs', 'optimizer', 'steps'],
  };
  for (const k of top[seed.url] ?? ['model', 'inputs']) out.push([k]);
  const model = b.model as Record<string, unknown> | undefined;
  if (model?.type === 'graph') {
    out.push(['model', 'type'], ['model', 'nodes'], ['model', 'output']);
    nodesOf(seed).forEach((_, k) => out.push(['model', 'nodes', k, 'id'], ['model', 'nodes', k, 'op'], ['model', 'nodes', k, 'inputs']));
    for (const p of Object.keys((model.params as object) ?? {})) out.push(['model', 'params', p, 'shape']);
  } else if (model) {
    out.push(['model', 'type'], ['model', 'inputSize'], ['model', 'layers'], ['model', 'layers', 0, 'units']);
  }
  if (b.optimizer) out.push(['optimizer', 'type']);
  if (b.loss) out.push(['loss', 'type'], ['targets'], ['loss']);
  return out;
}

const missing = fc.record({ s: fc.nat(), p: fc.nat() }).map(({ s, p }) => {
  const seed = pick(SEEDS, s);
  const body = clone(seed.body);
  const path = pick(requiredPaths(seed), p);
  deleteAt(body, path);
  // without inputs, a graph names each input it declares (422, inputs.x); an MLP its batch (422)
  const statuses = path.length === 1 && path[0] === 'inputs' ? [400, 422] : [400];
  return mk('missing field', seed, body, { statuses, field: formatPath(path) });
});

/** Strict objects of each seed where an unknown key must be refused. */
function strictObjects(seed: Seed): Path[] {
  const b = seed.body;
  const out: Path[] = [[]];
  const model = b.model as Record<string, unknown> | undefined;
  if (model) out.push(['model']);
  if (model?.type === 'graph') nodesOf(seed).forEach((_, k) => out.push(['model', 'nodes', k]));
  if (model?.type === 'mlp') out.push(['model', 'layers', 0]);
  for (const k of ['options', 'loss', 'optimizer', 'gradcheck']) if (b[k] !== undefined) out.push([k]);
  return out;
}

const unknownKey = fc.record({ s: fc.nat(), p: fc.nat(), name: ident }).map(({ s, p, name }) => {
  const seed = pick(SEEDS, s);
  const body = clone(seed.body);
  const at = pick(strictObjects(seed), p);
  if (getAt(body, at) === undefined) setAt(body, at, {});
  setAt(body, [...at, name], 1);
  return mk('unknown key', seed, body, { statuses: [400], field: formatPath([...at, name]) });
});

const withTensors = SEEDS.flatMap((seed) => tensorPaths(seed.body).map((t) => ({ seed, ...t })));
const nested2d = withTensors.filter(({ seed, path, enc }) => enc === 'nested' && Array.isArray(getAt(seed.body, [...path, 0])));
const flat = withTensors.filter((t) => t.enc === 'flat');
const b64 = withTensors.filter((t) => t.enc === 'base64');

const ragged = fc.record({ i: fc.nat(), row: fc.nat() }).map(({ i, row }) => {
  const { seed, path } = pick(nested2d, i);
  const body = clone(seed.body);
  const rows = getAt(body, path) as number[][];
  rows[row % rows.length]!.pop();
  return mk('ragged tensor', seed, body, { statuses: [422], field: formatPath(path), message: /ragged/ });
});

const flatLength = fc.record({ i: fc.nat(), extra: fc.integer({ min: 1, max: 3 }), drop: fc.boolean() }).map(({ i, extra, drop }) => {
  const { seed, path } = pick(flat, i);
  const body = clone(seed.body);
  const data = getAt(body, [...path, 'data']) as number[];
  if (drop) data.splice(0, Math.min(extra, data.length));
  else for (let k = 0; k < extra; k++) data.push(0.5);
  return mk('flat data length', seed, body, { statuses: [422], field: formatPath([...path, 'data']) });
});

const base64Length = fc.record({ i: fc.nat(), chars: fc.constantFrom('AAAA', 'AAAAAAAA', '') }).map(({ i, chars }) => {
  const { seed, path } = pick(b64, i);
  const body = clone(seed.body);
  const s = getAt(body, [...path, 'base64']) as string;
  setAt(body, [...path, 'base64'], chars === '' ? s.slice(0, -8) : s + chars);
  return mk('base64 length', seed, body, { statuses: [422], field: formatPath([...path, 'base64']) });
});

const base64NonFinite = fc.record({ i: fc.nat(), at: fc.nat(), v: fc.constantFrom(NaN, Infinity, -Infinity) }).map(({ i, at, v }) => {
  const { seed, path } = pick(b64, i);
  const body = clone(seed.body);
  const t = getAt(body, path) as { dtype: 'float32' | 'float64'; base64: string };
  const bytes = Buffer.from(t.base64, 'base64');
  const arr = t.dtype === 'float32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  arr[at % arr.length] = v;
  t.base64 = bytes.toString('base64');
  return mk('non-finite base64', seed, body, { statuses: [422], field: formatPath([...path, 'base64']), message: /not finite/ });
});

/** 1e999 parses as Infinity: a number JSON can carry that no tensor may hold. */
const overflowNumber = fc.record({ i: fc.nat(), at: fc.nat(), neg: fc.boolean() }).map(({ i, at, neg }) => {
  const cands = [...nested2d, ...flat];
  const { seed, path, enc } = pick(cands, i);
  const body = clone(seed.body);
  const leafPath: Path = enc === 'flat' ? [...path, 'data', at % (getAt(body, [...path, 'data']) as unknown[]).length] : [...path, at % (getAt(body, path) as unknown[]).length, 0];
  setAt(body, leafPath, '__INF__');
  return mk('non-finite number', seed, body, { statuses: [400, 422], field: formatPath(leafPath) }, ['"__INF__"', neg ? '-1e999' : '1e999']);
});

/** A parameter or input with an extra leading axis: the wrong shape. */
const wrongShape = fc.record({ i: fc.nat() }).map(({ i }) => {
  // an input of another shape may still broadcast; a parameter must have its declared shape
  const cands = withTensors.filter(({ seed, path }) => path[0] === 'params' && seed.url !== '/v1/step');
  const { seed, path } = pick(cands, i);
  const body = clone(seed.body);
  const t = getAt(body, path);
  setAt(body, path, Array.isArray(t) || typeof t === 'number' ? [t, t] : { shape: [2, ...(t as { shape: number[] }).shape], data: [] });
  return mk('wrong shape', seed, body, { statuses: [422], field: formatPath(path) });
});

const unknownName = fc.record({ s: fc.nat(), name: ident, where: fc.constantFrom('params', 'inputs') }).map(({ s, name, where }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  if (body[where] === undefined) body[where] = {};
  setAt(body, [where, name], 1);
  return mk('unknown name', seed, body, { statuses: [422], field: `${where}.${name}` });
});

/** The XOR MLP turned into a 2-class classifier with one bad class index (−100 is torch's ignoreIndex: valid). */
const classTarget = fc
  .record({ row: fc.integer({ min: 0, max: 3 }), bad: fc.oneof(fc.integer({ min: 2, max: 1000 }), fc.integer({ min: -1000, max: -1 }).filter((v) => v !== -100), fc.double({ min: 0.01, max: 0.99, noNaN: true })), nll: fc.boolean() })
  .map(({ row, bad, nll }) => {
    const seed = SEEDS.find((s) => s.name === 'gradients/xor')!;
    const body = clone(seed.body) as Record<string, any>;
    body.model.layers[1] = { units: 2, activation: nll ? 'identity' : 'tanh' };
    body.loss = { type: nll ? 'nll' : 'cross_entropy' };
    body.targets = [0, 1, 1, 0];
    body.targets[row] = bad;
    return mk('class target', seed, body, { statuses: [422], field: 'targets' });
  });

const optimizerSeeds = SEEDS.filter((s) => s.body.optimizer !== undefined);
const badOptimizer = fc
  .record({
    s: fc.nat(),
    m: fc.constantFrom<[string, unknown]>(
      ['lr', -0.1],
      ['lr', 'fast'],
      ['eps', -1],
      ['weightDecay', -1],
      ['type', 'lbfgs'],
      ['betas', [1.5, 0.9]],
      ['betas', [0.9]],
      ['momentum', -0.5],
      ['alpha', -0.5],
    ),
  })
  .map(({ s, m: [key, v] }) => {
    const seed = pick(optimizerSeeds, s);
    const body = clone(seed.body) as Record<string, any>;
    const type = key === 'betas' ? 'adam' : key === 'momentum' ? 'sgd' : key === 'alpha' ? 'rmsprop' : body.optimizer.type;
    body.optimizer = { type, lr: 0.01, [key]: v };
    if (type !== seed.body.optimizer && body.optimizer.state) delete body.optimizer.state;
    return mk('bad optimizer', seed, body, { statuses: [400], field: `optimizer.${key}` });
  });

const badState = fc.record({ s: fc.nat(), name: ident, wrong: fc.boolean() }).map(({ s, name, wrong }) => {
  const seed = SEEDS.find((x) => x.name === 'step/adam')!;
  void s;
  const body = clone(seed.body) as Record<string, any>;
  const st = body.optimizer.state.state;
  if (wrong) {
    st.w.exp_avg = [1, 2, 3];
    return mk('bad optimizer state', seed, body, { statuses: [422], field: 'optimizer.state.state.w.exp_avg' });
  }
  st[name] = st.w;
  return mk('bad optimizer state', seed, body, { statuses: [422], field: `optimizer.state.state.${name}` });
});

const reserved = fc.record({ s: fc.nat(), name: fc.constantFrom('constructor', 'prototype', 'toString', 'hasOwnProperty'), where: fc.constantFrom('params', 'inputs') }).map(({ s, name, where }) => {
  const seed = pick(graphSeeds, s);
  const body = clone(seed.body);
  if (body[where] === undefined) body[where] = {};
  setAt(body, [where, name], 1);
  return mk('reserved name', seed, body, { statuses: [400, 422], field: `${where}.${name}` });
});

/** "__proto__" as a JSON key anywhere: refused as malformed JSON (prototype poisoning), never merged. */
const protoKey = fc.record({ s: fc.nat(), p: fc.nat() }).map(({ s, p }) => {
  const seed = pick(SEEDS, s);
  const body = clone(seed.body);
  const objects = [[] as Path, ...allPaths(body)].filter((path) => {
    const v = getAt(body, path);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
  const at = pick(objects, p);
  setAt(body, [...at, '__proto__'], { polluted: 1 });
  return mk('__proto__ key', seed, body, { statuses: [400] });
});

export const INVALID_KINDS = {
  unknownOp,
  unknownRef,
  cycle,
  duplicateId,
  unknownAttr,
  badAttr,
  wrongType,
  missing,
  unknownKey,
  ragged,
  flatLength,
  base64Length,
  base64NonFinite,
  overflowNumber,
  wrongShape,
  unknownName,
  classTarget,
  badOptimizer,
  badState,
  reserved,
  protoKey,
};

export const invalidCase: fc.Arbitrary<Case> = fc.oneof(...Object.values(INVALID_KINDS));

export { modelSeeds };
