import { twoWeight, xorMlp } from '../../../src/routes/shared/examples.js';

// Valid request bodies, one or more per route, that the fuzzers mutate. Each is small (a few
// milliseconds of compute) and exercises a different part of the schema: graphs and MLPs, the three
// tensor encodings, attributes, losses, optimizers with state, and each route's own fields.

export interface Seed {
  name: string;
  url: string;
  body: Record<string, unknown>;
}

const f64 = (xs: number[]) => Buffer.from(new Float64Array(xs).buffer).toString('base64');
const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer).toString('base64');

/** A 3-class classifier graph: linear → softmax-free logits → cross-entropy on class indices. */
const classifier = {
  model: {
    type: 'graph',
    inputs: ['x', 'y'],
    params: {
      W: { shape: [3, 2], init: { scheme: 'xavier_uniform', seed: 1 } },
      b: { shape: [3], init: { scheme: 'zeros' } },
    },
    constants: { s: { shape: [1], data: [0.5] } },
    nodes: [
      { id: 'z', op: 'linear', inputs: ['x', 'W', 'b'] },
      { id: 'h', op: 'mul', inputs: ['z', 's'] },
      { id: 'L', op: 'cross_entropy_loss', inputs: ['h', 'y'], attrs: { labelSmoothing: 0.1 } },
    ],
    output: 'L',
  },
  inputs: {
    x: { shape: [2, 2], data: [0.1, -0.2, 0.3, 0.4] },
    y: { shape: [2], dtype: 'float64', base64: f64([0, 2]) },
  },
  options: { dtype: 'float64', encoding: 'flat', returnOutputs: true, inputGradients: true },
};

/** Shape ops and reductions with attributes. */
const shapes = {
  model: {
    type: 'graph',
    inputs: ['x'],
    params: { w: { shape: [3, 2] } },
    nodes: [
      { id: 'a', op: 'matmul', inputs: ['x', 'w'] },
      { id: 'b', op: 'softmax', inputs: ['a'], attrs: { axis: -1 } },
      { id: 'c', op: 'transpose', inputs: ['b'], attrs: { perm: [1, 0] } },
      { id: 'd', op: 'sum', inputs: ['c'], attrs: { axes: [0], keepdims: false } },
      { id: 'L', op: 'logsumexp', inputs: ['d'] },
    ],
    output: 'L',
  },
  params: { w: [[0.1, 0.2], [0.3, -0.1], [0.05, 0.5]] },
  inputs: { x: { shape: [2, 3], dtype: 'float32', base64: f32([1, 2, 3, -1, 0, 1]) } },
};

const adamState = {
  type: 'adam',
  lr: 0.01,
  betas: [0.9, 0.99],
  state: { step: 1, state: { w: { step: 1, exp_avg: [0.1, -0.1], exp_avg_sq: [0.001, 0.002] } } },
};

export const SEEDS: Seed[] = [
  { name: 'gradients/twoWeight+adam', url: '/v1/gradients', body: { ...twoWeight, optimizer: { type: 'adam', lr: 0.1 }, clipGradNorm: 10 } },
  { name: 'gradients/xor', url: '/v1/gradients', body: { ...xorMlp, optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 } } },
  { name: 'gradients/classifier', url: '/v1/gradients', body: classifier },
  { name: 'forward/shapes', url: '/v1/forward', body: shapes },
  {
    name: 'gradcheck/twoWeight',
    url: '/v1/gradcheck',
    body: { ...twoWeight, gradcheck: { eps: 1e-6, atol: 1e-5, rtol: 1e-3, maxElementsPerParam: 4, seed: 3 } },
  },
  { name: 'explain/twoWeight', url: '/v1/explain', body: twoWeight },
  { name: 'step/adam', url: '/v1/step', body: { params: { w: [1, -1] }, gradients: { w: [0.5, -0.5] }, optimizer: adamState, clipGradNorm: 1 } },
  {
    name: 'train/mlp',
    url: '/v1/train',
    body: {
      model: { type: 'mlp', inputSize: 2, layers: [{ units: 3, activation: { type: 'leaky_relu', negativeSlope: 0.1 } }, { units: 1 }], norm: 'layernorm' },
      inputs: [[0, 1], [1, 0], [1, 1]],
      targets: [[1], [1], [0]],
      loss: { type: 'huber', delta: 0.5 },
      optimizer: { type: 'rmsprop', lr: 0.01, alpha: 0.9 },
      steps: 3,
      batchSize: 2,
      shuffleSeed: 1,
    },
  },
];

/** The top-level fields each route's schema knows (a field may be named by an error though absent). */
export const ROUTE_FIELDS: Record<string, string[]> = {
  '/v1/gradients': ['model', 'params', 'inputs', 'targets', 'loss', 'outputGrad', 'options', 'optimizer', 'clipGradNorm'],
  '/v1/forward': ['model', 'params', 'inputs', 'targets', 'loss', 'outputGrad', 'options'],
  '/v1/gradcheck': ['model', 'params', 'inputs', 'targets', 'loss', 'outputGrad', 'options', 'gradcheck'],
  '/v1/explain': ['model', 'params', 'inputs', 'targets', 'loss', 'outputGrad', 'options'],
  '/v1/step': ['params', 'gradients', 'optimizer', 'clipGradNorm', 'options'],
  '/v1/train': ['model', 'params', 'inputs', 'targets', 'loss', 'options', 'optimizer', 'clipGradNorm', 'steps', 'batchSize', 'shuffleSeed'],
};

export const clone = <T>(v: T): T => structuredClone(v);
