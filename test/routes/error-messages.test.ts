import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyOnnx, twoWeight, xorMlp } from '../../src/routes/shared/examples.js';
import { startApp } from './helpers.js';

// The answer to each of ~50 typical mistakes, word for word: this file is where the messages are
// reviewed. Each says where (the path), what was expected, what came and, for names, the allowed ones.
// Limits are small here (MAX_ELEMENTS 1000, MAX_NODES 50, a 64 KiB body) so the 413s are cheap.

const graph = twoWeight.model;
const mlp = (layer: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...xorMlp,
  model: { ...xorMlp.model, layers: [layer, { units: 1, activation: 'sigmoid' }], ...extra },
});
const withNodes = (nodes: unknown[]) => ({ ...twoWeight, model: { ...graph, nodes } });
const inputsX = (x: unknown) => ({ ...twoWeight, inputs: { x, t: 1 } });
/** A 3 × 3 convolution of a 2 × 2 image, summed, with these attributes. */
const conv = (attrs: Record<string, unknown>) => ({
  model: {
    type: 'graph', inputs: ['x'], params: { K: { shape: [1, 1, 3, 3] } }, output: 'L',
    nodes: [{ id: 'c', op: 'conv2d', inputs: ['x', 'K'], attrs }, { id: 'L', op: 'sum', inputs: ['c'] }],
  },
  inputs: { x: [[[[1, 2], [3, 4]]]] },
  params: { K: [[[[1, 1, 1], [1, 2, 1], [1, 1, 1]]]] },
});
const f32 = (...v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');

type Case = [what: string, route: string, body: unknown, status: number, code: string, detail: string];
/** A body sent as these exact bytes with this content type. */
class Raw {
  constructor(
    readonly payload: string,
    readonly contentType: string,
  ) {}
}
const raw = (payload: string, contentType = 'application/json') => new Raw(payload, contentType);

const G = '/v1/gradients';
const CASES: Case[] = [
  // names: the allowed values, and the nearest when it looks like a typo
  ['activation in capitals', G, mlp({ units: 4, activation: 'ReLU' }),
    400, 'INVALID_REQUEST', 'model.layers[0].activation: expected one of "identity", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "softplus", "softsign"; got the string "ReLU" (did you mean "relu"?)'],
  ['activation misspelt', G, mlp({ units: 4, activation: 'rellu' }),
    400, 'INVALID_REQUEST', 'model.layers[0].activation: expected one of "identity", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "softplus", "softsign"; got the string "rellu" (did you mean "relu"?)'],
  ['activation object with a bad type', G, mlp({ units: 4, activation: { type: 'leaky', negativeSlope: 0.1 } }),
    400, 'INVALID_REQUEST', 'model.layers[0].activation.type: expected one of "identity", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "softplus", "softsign"; got the string "leaky" (did you mean "leaky_relu"?)'],
  ['loss in capitals', G, { ...xorMlp, loss: { type: 'BCE' } },
    400, 'INVALID_REQUEST', 'loss.type: expected one of "mse", "l1", "huber", "bce", "bce_with_logits", "cross_entropy", "nll"; got the string "BCE" (did you mean "bce"?)'],
  ['loss misspelt', G, { ...xorMlp, loss: { type: 'crossentropy' } },
    400, 'INVALID_REQUEST', 'loss.type: expected one of "mse", "l1", "huber", "bce", "bce_with_logits", "cross_entropy", "nll"; got the string "crossentropy" (did you mean "cross_entropy"?)'],
  ['optimizer in capitals', G, { ...xorMlp, optimizer: { type: 'Adam' } },
    400, 'INVALID_REQUEST', 'optimizer.type: expected one of "sgd", "adam", "adamw", "rmsprop", "adagrad"; got the string "Adam" (did you mean "adam"?)'],
  ['optimizer without type', G, { ...xorMlp, optimizer: { lr: 0.1 } },
    400, 'INVALID_REQUEST', 'optimizer.type: required: one of "sgd", "adam", "adamw", "rmsprop", "adagrad"'],
  ['init scheme abbreviated', G, mlp({ units: 4 }, { init: { scheme: 'xavier' } }),
    400, 'INVALID_REQUEST', 'model.init.scheme: expected one of "default", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal", "normal", "uniform", "zeros", "ones", "constant"; got the string "xavier" (did you mean "xavier_uniform" or "xavier_normal"?)'],
  ['op misspelt', G, withNodes([{ id: 'h', op: 'mull', inputs: ['w1', 'x'] }, ...graph.nodes.slice(1)]),
    422, 'INVALID_SPEC', 'model.nodes[0].op: unknown op "mull" (did you mean "mul"? GET /v1/ops lists the ops)'],
  ['op from another library', G, withNodes([...graph.nodes.slice(0, 2), { id: 'L', op: 'MSELoss', inputs: ['y', 't'] }]),
    422, 'INVALID_SPEC', 'model.nodes[2].op: unknown op "MSELoss" (did you mean "mse_loss"? GET /v1/ops lists the ops)'],
  ['model type in capitals', G, { ...xorMlp, model: { ...xorMlp.model, type: 'MLP' } },
    400, 'INVALID_REQUEST', 'model.type: expected one of "mlp", "graph", "onnx"; got the string "MLP" (did you mean "mlp"?)'],
  ['encoding in capitals', G, { ...twoWeight, options: { encoding: 'Base64' } },
    400, 'INVALID_REQUEST', 'options.encoding: expected one of "nested", "flat", "base64"; got the string "Base64" (did you mean "base64"?)'],
  ['dtype not supported', G, { ...twoWeight, options: { dtype: 'float16' } },
    400, 'INVALID_REQUEST', 'options.dtype: expected one of "float32", "float64"; got the string "float16" (did you mean "float32"?)'],
  ['norm in capitals', G, mlp({ units: 4 }, { norm: 'LayerNorm' }),
    400, 'INVALID_REQUEST', 'model.norm: expected one of "none", "layernorm"; got the string "LayerNorm" (did you mean "layernorm"?)'],
  // missing fields: "required", with what belongs there
  ['empty body object', G, {},
    400, 'INVALID_REQUEST', 'model: required: the model: an MLP, an explicit graph or an ONNX file, told apart by `type`'],
  ['no inputs, for a graph that has some', G, { model: graph, params: twoWeight.params },
    422, 'INVALID_SPEC', 'inputs.x: missing: the model declares input "x"; inputs.t: missing: the model declares input "t"'],
  ['no inputs, for an MLP', G, { model: xorMlp.model, targets: xorMlp.targets, loss: xorMlp.loss },
    422, 'INVALID_SPEC', 'inputs: missing: the MLP\'s batch, one tensor [batch, inputSize]'],
  ['no model type', G, { ...xorMlp, model: { inputSize: 2, layers: [{ units: 1 }] } },
    400, 'INVALID_REQUEST', 'model.type: required: one of "mlp", "graph", "onnx"'],
  ['MLP without layers', G, { ...xorMlp, model: { type: 'mlp', inputSize: 2 } },
    400, 'INVALID_REQUEST', 'model.layers: required: the layers, input to output'],
  ['layer without units', G, mlp({ activation: 'tanh' }),
    400, 'INVALID_REQUEST', 'model.layers[0].units: required: output width of the layer (PyTorch nn.Linear out_features)'],
  ['base64 tensor without dtype', G, inputsX({ shape: [], base64: f32(2) }),
    400, 'INVALID_REQUEST', 'inputs.x.dtype: required: one of "float32", "float64", "int32", "int64"'],
  ['loss without targets', G, { ...xorMlp, targets: undefined },
    400, 'INVALID_REQUEST', 'targets: required with `loss`'],
  ['targets without loss', G, { ...xorMlp, loss: undefined },
    400, 'INVALID_REQUEST', 'loss: required with `targets`'],
  ['train without steps', '/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.1 } },
    400, 'INVALID_REQUEST', 'steps: required: optimizer steps to take (the time limit applies to the whole run)'],
  // wrong types and values
  ['inputSize as a string', G, { ...xorMlp, model: { ...xorMlp.model, inputSize: '2' } },
    400, 'INVALID_REQUEST', 'model.inputSize: expected a number, got the string "2"'],
  ['units not an integer', G, mlp({ units: 1.5 }),
    400, 'INVALID_REQUEST', 'model.layers[0].units: expected an integer, got the number 1.5'],
  ['units zero', G, mlp({ units: 0 }),
    400, 'INVALID_REQUEST', 'model.layers[0].units: expected at least 1, got the number 0'],
  ['negative learning rate', G, { ...xorMlp, optimizer: { type: 'sgd', lr: -0.1 } },
    400, 'INVALID_REQUEST', 'optimizer.lr: expected at least 0, got the number -0.1'],
  ['train steps zero', '/v1/train', { ...twoWeight, optimizer: { type: 'sgd', lr: 0.1 }, steps: 0 },
    400, 'INVALID_REQUEST', 'steps: expected at least 1, got the number 0'],
  ['node id starting with a digit', G, withNodes([{ id: '1h', op: 'mul', inputs: ['w1', 'x'] }, ...graph.nodes.slice(1)]),
    400, 'INVALID_REQUEST', 'model.nodes[0].id: an identifier: letters, digits, _ . : -, not starting with a digit'],
  ['negative dimension', G, inputsX({ shape: [-1], data: [] }),
    400, 'INVALID_REQUEST', 'inputs.x.shape[0]: expected at least 0, got the number -1'],
  ['both loss and outputGrad', G, { ...twoWeight, model: { ...graph, output: 'y' }, loss: { type: 'mse' }, targets: 1, outputGrad: 1 },
    400, 'INVALID_REQUEST', 'outputGrad: give either `loss` with `targets`, or `outputGrad`, not both'],
  ['clipGradNorm without an optimizer', G, { ...twoWeight, clipGradNorm: 1 },
    400, 'INVALID_REQUEST', 'clipGradNorm: clips the gradients the optimizer steps with (the answer\'s gradients are unclipped): give an optimizer too, or leave it out (diagnostics.globalGradNorm is the norm it would clip)'],
  // unknown fields: each at its own path, with the allowed ones
  ['top-level field misspelt', G, { ...xorMlp, optimiser: { type: 'sgd' } },
    400, 'INVALID_REQUEST', 'optimiser: unknown field "optimiser" (allowed: model, params, inputs, targets, loss, outputGrad, options, optimizer, clipGradNorm)'],
  ['unknown option', G, { ...twoWeight, options: { colour: 'red' } },
    400, 'INVALID_REQUEST', 'options.colour: unknown field "colour" (allowed: dtype, encoding, returnOutputs, returnIntermediates, inputGradients, diagnostics)'],
  ['unknown attribute of an op', G, withNodes([{ id: 'h', op: 'mul', inputs: ['w1', 'x'], attrs: { axis: 0 } }, ...graph.nodes.slice(1)]),
    422, 'INVALID_SPEC', 'model.nodes[0].attrs.axis: unknown attribute "axis" (allowed: none)'],
  // convolution windows past what the kernels index (2^24 along a dimension)
  ['a dilation past 2^24', G, conv({ dilation: 2 ** 32, padding: 'same' }),
    422, 'INVALID_SPEC', 'model.nodes[0].attrs.dilation: expected at most 16777216, got the number 4294967296'],
  ['a dilated kernel reaching past 2^24', G, conv({ dilation: [1, 2 ** 24], padding: 'same' }),
    422, 'INVALID_SPEC', 'model.nodes[0].inputs[1]: conv2d: the dilated kernel reaches dilation·(k − 1) + 1 = 33554433 elements along spatial dimension 1, more than 16777216'],
  // tensors
  ['a string for a tensor', G, inputsX('2'),
    400, 'INVALID_REQUEST', 'inputs.x: expected a tensor: nested arrays, {shape, data}, or {shape, dtype, base64}; got the string "2"'],
  ['a string inside a tensor', G, inputsX([1, '2']),
    400, 'INVALID_REQUEST', 'inputs.x[1]: expected a number, got the string "2"'],
  ['null in flat data', G, inputsX({ shape: [2], data: [1, null] }),
    400, 'INVALID_REQUEST', 'inputs.x.data[1]: expected a number, got null'],
  ['a number where a row belongs', G, inputsX([[1, 2], 3]),
    400, 'INVALID_REQUEST', 'inputs.x[1]: ragged array: expected an array of length 2, got the number 3'],
  ['ragged nested arrays', G, inputsX([[1, 2], [3]]),
    422, 'INVALID_SPEC', 'inputs.x[1]: ragged array: length 1, expected 2'],
  ['flat data of the wrong length', G, inputsX({ shape: [2, 2], data: [1, 2, 3] }),
    422, 'INVALID_SPEC', 'inputs.x.data: has 3 elements but shape [2, 2] needs 4'],
  ['base64 of the wrong length', G, inputsX({ shape: [2], dtype: 'float32', base64: f32(1) }),
    422, 'INVALID_SPEC', 'inputs.x.base64: decodes to 4 bytes, but 2 float32 elements need 8'],
  ['NaN in base64', G, inputsX({ shape: [], dtype: 'float32', base64: f32(Number.NaN) }),
    422, 'INVALID_SPEC', 'inputs.x.base64: element 0 is not finite (NaN)'],
  ['1e999 (Infinity) in a tensor', G, raw(JSON.stringify(inputsX([1, 2])).replace('[1,2]', '[1,1e999]')),
    422, 'INVALID_SPEC', 'inputs.x[1]: not a finite number: Infinity'],
  ['-1e999 as a scalar tensor: as inside an array', G, raw(JSON.stringify(inputsX(7)).replace('"x":7', '"x":-1e999')),
    422, 'INVALID_SPEC', 'inputs.x: not a finite number: -Infinity'],
  // finite numbers that float32, the default computation dtype, holds as ±Infinity
  ['1e39 in a float32 computation', G, inputsX([1, 1e39]),
    422, 'INVALID_SPEC', 'inputs.x[1]: 1e+39 is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['-1e39 in flat data', G, inputsX({ shape: [2], data: [1, -1e39] }),
    422, 'INVALID_SPEC', 'inputs.x.data[1]: -1e+39 is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['a float64 base64 element beyond float32', G, inputsX({ shape: [], dtype: 'float64', base64: Buffer.from(Float64Array.of(4e38).buffer).toString('base64') }),
    422, 'INVALID_SPEC', 'inputs.x.base64: element 0 (4e+38) is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['a parameter beyond float32', G, { ...twoWeight, params: { w1: 1e39, w2: 1 } },
    422, 'INVALID_SPEC', 'params.w1: 1e+39 is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['a node literal beyond float32', G, withNodes([{ id: 'h', op: 'mul', inputs: ['w1', 1e39] }, ...graph.nodes.slice(1)]),
    422, 'INVALID_SPEC', 'model.nodes[0].inputs[1]: the literal 1e+39 is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['a class weight beyond float32', G, { model: { type: 'mlp', inputSize: 2, layers: [{ units: 3, activation: 'identity' }] }, inputs: [[0, 1]], targets: [0], loss: { type: 'cross_entropy', weight: [1, 1, 1e39] } },
    422, 'INVALID_SPEC', 'loss.weight[2]: 1e+39 is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['an initializer drawing beyond float32', G, { ...twoWeight, model: { ...graph, params: { ...graph.params, w1: { shape: [], init: { scheme: 'constant', value: 1e39 } } } }, params: { w2: 1 } },
    422, 'INVALID_SPEC', 'model.params.w1.init: constant draws 1e+39 at element 0, which is beyond the range of float32 (±3.4028235e38), where it is ±Infinity: compute with options.dtype "float64"'],
  ['a graph given one tensor as inputs', G, { ...twoWeight, inputs: [1, 2] },
    422, 'INVALID_SPEC', 'inputs: a graph takes a map {name: tensor} over model.inputs'],
  ['an ONNX model given one tensor as inputs', G, { ...tinyOnnx, inputs: [[1, 2, 3]] },
    422, 'INVALID_SPEC', 'inputs: an ONNX model takes a map {name: tensor} over the graph inputs of the file, by their names there'],
  ['an MLP batch of the wrong width', G, { ...xorMlp, inputs: [[0, 0, 1]] , targets: [[0]] },
    422, 'INVALID_SPEC', 'inputs: must have shape [batch, 2] (inputSize), got [1, 3]'],
  ['a parameter of the wrong shape', G, { ...twoWeight, params: { w1: [1, 2], w2: 1 } },
    422, 'INVALID_SPEC', `params.w1: shape [2] does not match the parameter's []`],
  ['a parameter the model lacks', G, { ...twoWeight, params: { ...twoWeight.params, w3: 1 } },
    422, 'INVALID_SPEC', 'params.w3: the model has no parameter "w3" (its parameters: w1, w2)'],
  ['a node referring to nothing', G, withNodes([{ id: 'h', op: 'mul', inputs: ['w1', 'z'] }, ...graph.nodes.slice(1)]),
    422, 'INVALID_SPEC', 'model.nodes[0].inputs[1]: unknown reference "z": no input, param, constant or node has this id'],
  ['a cycle', G, withNodes([{ id: 'h', op: 'mul', inputs: ['w1', 'y'] }, ...graph.nodes.slice(1)]),
    422, 'INVALID_SPEC', 'model.nodes[0].inputs[1]: cycle: h → y → h (a graph must be acyclic)'],
  // limits: the limit, its value, its variable, the way around it
  ['a tensor over MAX_ELEMENTS', G, inputsX({ shape: [2000], data: [] }),
    413, 'LIMIT_EXCEEDED', 'inputs.x: the tensor has 2000 elements, over the limit of 1000 (MAX_ELEMENTS): split the batch over several requests, or start the service with a larger MAX_ELEMENTS'],
  ['an MLP over MAX_ELEMENTS', G, mlp({ units: 5000 }),
    413, 'LIMIT_EXCEEDED', `model: the graph's values need 40022 elements, over the limit of 1000 (MAX_ELEMENTS): split the batch over several requests, or start the service with a larger MAX_ELEMENTS`],
  ['nodes over MAX_NODES', G, withNodes(Array.from({ length: 60 }, (_, i) => ({ id: `n${i}`, op: 'mul', inputs: ['w1', 'x'] }))),
    413, 'LIMIT_EXCEEDED', 'model.nodes: 60 nodes, over the limit of 50 (MAX_NODES): split the model, or start the service with a larger MAX_NODES'],
  ['a body over BODY_LIMIT_MB', G, inputsX(Array.from({ length: 20_000 }, () => 0.123456789)),
    413, 'BODY_TOO_LARGE', 'the request body is over the limit of 65536 bytes (BODY_LIMIT_MB=0.0625): send large tensors as base64 ({"shape", "dtype", "base64"}), which takes fewer bytes than JSON numbers, split the batch over several requests, or start the service with a larger BODY_LIMIT_MB'],
  // the body itself
  ['malformed JSON', G, raw('{"model": {"type": "mlp",}'),
    400, 'INVALID_JSON', 'the body is not valid JSON: Expected double-quoted property name in JSON at position 25'],
  ['an empty body', G, raw(''),
    400, 'INVALID_JSON', 'the body is empty: send a JSON object'],
  ['not JSON', G, raw('model=mlp', 'text/plain'),
    415, 'UNSUPPORTED_MEDIA_TYPE', 'expected content-type application/json or application/vnd.gradserve.safetensors, got text/plain'],
  ['a form post', G, raw('model=mlp', 'application/x-www-form-urlencoded'),
    415, 'UNSUPPORTED_MEDIA_TYPE', 'expected content-type application/json or application/vnd.gradserve.safetensors, got application/x-www-form-urlencoded'],
  // a name safetensors could not carry back (wire/safetensors-body.ts) is refused in JSON too
  ['a tensor name over 1024 characters', '/v1/step', { params: { ['p'.repeat(1025)]: 1 }, gradients: { ['p'.repeat(1025)]: 1 }, optimizer: { type: 'sgd', lr: 0.1 } },
    400, 'INVALID_REQUEST', ['params', 'gradients'].map((f) => `${f}.${'p'.repeat(1025)}: not a valid name: expected at most 1024 characters, got 1025 characters`).join('; ')],
  ['JSON declared in another charset than UTF-8', G, raw(JSON.stringify(twoWeight), 'application/json; charset=utf-16'),
    415, 'UNSUPPORTED_MEDIA_TYPE', 'JSON is read as UTF-8 (RFC 8259), and this body declares charset=utf-16: send it as UTF-8'],
  ['a route that does not exist', '/v1/gradient', twoWeight,
    404, 'NOT_FOUND', 'no route POST /v1/gradient'],
];

describe('what each typical mistake is told', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp({ maxElements: 1000, maxNodes: 50, bodyLimitBytes: 64 * 1024 });
  });
  afterAll(() => app.close());

  it.each(CASES)('%s', async (_what, url, body, status, code, detail) => {
    const r =
      body instanceof Raw
        ? await app.inject({ method: 'POST', url, payload: body.payload, headers: { 'content-type': body.contentType } })
        : await app.inject({ method: 'POST', url, payload: body as object });
    const p = JSON.parse(r.body);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect({ status: r.statusCode, code: p.code, detail: p.detail }).toEqual({ status, code, detail });
    // each field-level message is said once, its path apart (a limit error's once read "model: model: …")
    for (const e of p.errors ?? []) expect(e.message.startsWith(`${e.path}:`), e.message).toBe(false);
  });
});

describe('JSON in UTF-8 by any of its names', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  it('accepts charset utf-8 in any case, quoted or not, and us-ascii', async () => {
    for (const type of ['application/json; charset=UTF-8', 'application/json;charset="utf-8"', 'application/json; charset=us-ascii']) {
      const r = await app.inject({ method: 'POST', url: '/v1/gradients', payload: JSON.stringify(twoWeight), headers: { 'content-type': type } });
      expect(r.statusCode, type).toBe(200);
    }
  });
});
