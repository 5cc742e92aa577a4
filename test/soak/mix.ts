import { twoWeight, xorMlp } from '../../src/routes/shared/examples.js';
import { LARGE, mlpBody } from '../bench/common.js';

// The soak's traffic: every route, valid and invalid bodies, each with the one status it must get.

export interface MixRequest {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  status: number;
  /** a substring the answer must contain */
  contains?: string;
  /** may go unsent (see the filler below) */
  optional?: boolean;
}

const json = { 'content-type': 'application/json' };
const logOfNegative = {
  model: { type: 'graph', inputs: ['x'], nodes: [{ id: 'a', op: 'log', inputs: ['x'] }, { id: 'L', op: 'sum', inputs: ['a'] }], output: 'L' },
  inputs: { x: [-1, 2] },
};
const nanBase64 = Buffer.from(new Float32Array([1, Number.NaN]).buffer).toString('base64');

/**
 * The bench's large request: a 784-512-512-10 MLP on a batch of 256, base64, ~0.7 MB each way. The
 * soak sends it on a connection of its own, one at a time (autocannon's connections go through the mix
 * in order, and one large request in it would hold every small one behind it), and abandons it too.
 */
export const largeBody = () => mlpBody(LARGE, 'base64');
export const LARGE_CONTAINS = '"layers.2.bias"';

export function mix(apiKey: string): MixRequest[] {
  const auth = { authorization: `Bearer ${apiKey}` };
  const post = (name: string, path: string, body: unknown, status: number, contains?: string): MixRequest => ({
    name,
    method: 'POST',
    path,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { ...json, ...auth },
    status,
    ...(contains ? { contains } : {}),
  });
  const get = (name: string, path: string, status = 200, contains?: string): MixRequest => ({
    name,
    method: 'GET',
    path,
    headers: auth,
    status,
    ...(contains ? { contains } : {}),
  });
  return [
    post('gradients', '/v1/gradients', twoWeight, 200, '"gradients":{"w1":15,"w2":-5}'),
    post('gradients mlp+adam', '/v1/gradients', { ...xorMlp, optimizer: { type: 'adam', lr: 0.01 } }, 200, '"optimizerState"'),
    post('forward', '/v1/forward', twoWeight, 200, '"loss":6.25'),
    post('gradcheck', '/v1/gradcheck', twoWeight, 200, '"passed":true'),
    post('explain', '/v1/explain', twoWeight, 200, 'digraph'),
    post('step', '/v1/step', { params: { w: [1, -1] }, gradients: { w: [0.5, -0.5] }, optimizer: { type: 'sgd', lr: 0.1 } }, 200, '"params"'),
    post('train', '/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.01 }, steps: 20 }, 200, '"losses"'),
    { ...post('train ndjson', '/v1/train', { ...xorMlp, optimizer: { type: 'adam', lr: 0.05 }, steps: 5 }, 200, '"step":5'), headers: { ...json, ...auth, accept: 'application/x-ndjson' } },
    post('NaN loss', '/v1/gradients', logOfNegative, 200, '"non_finite"'),
    get('ops', '/v1/ops', 200, 'mse_loss'),
    get('healthz', '/healthz', 200, '"ok"'),
    get('readyz', '/readyz', 200, '"ready"'),
    get('openapi', '/openapi.json', 200, '"openapi"'),
    post('unknown op', '/v1/forward', { ...twoWeight, model: { ...twoWeight.model, nodes: [{ id: 'L', op: 'nope', inputs: ['x'] }], output: 'L' } }, 422, 'unknown op'),
    post('malformed JSON', '/v1/gradients', '{"model": ', 400, 'INVALID_JSON'),
    // The server closes the connection after a body it could not parse, and autocannon, reconnecting,
    // skips the next request of its list: a filler, so that no request of the mix goes unsent.
    { ...get('healthz (filler)', '/healthz', 200, '"ok"'), optional: true },
    post('schema violation', '/v1/gradients', { model: { type: 'graph' }, inputs: {} }, 400, 'model.nodes'),
    post('over MAX_ELEMENTS', '/v1/forward', { ...twoWeight, inputs: { x: { shape: [1e6, 1e6], data: [] }, t: 1 } }, 413, 'LIMIT_EXCEEDED'),
    post('NaN in base64', '/v1/gradients', { ...twoWeight, inputs: { x: { shape: [2], dtype: 'float32', base64: nanBase64 }, t: 1 } }, 422, 'not finite'),
    { ...post('not JSON', '/v1/gradients', 'w1=0.5', 415, 'UNSUPPORTED_MEDIA_TYPE'), headers: { 'content-type': 'text/plain', ...auth } },
    { ...post('no API key', '/v1/gradients', twoWeight, 401, 'UNAUTHORIZED'), headers: json },
    get('unknown route', '/v2/nothing', 404, 'NOT_FOUND'),
  ];
}
