// Runnable request examples for the OpenAPI document (Swagger UI's "Try it out" starts from the first).

import { canonicalJson, modelId } from '../../plugins/models.js';

/** The README's two-weight chain: h = w1·x, y = w2·h, L = (y − t)². With x = 2, t = 1, w1 = 0.5, w2 = −1.5:
 *  L = 6.25, dL/dw1 = dL/dy · dy/dh · dh/dw1 = (−5)(−1.5)(2) = 15, dL/dw2 = (−5)(1) = −5. */
export const twoWeightModel = {
  type: 'graph',
  inputs: ['x', 't'],
  params: { w1: { shape: [] }, w2: { shape: [] } },
  nodes: [
    { id: 'h', op: 'mul', inputs: ['w1', 'x'] },
    { id: 'y', op: 'mul', inputs: ['w2', 'h'] },
    { id: 'L', op: 'mse_loss', inputs: ['y', 't'] },
  ],
  output: 'L',
};

/** The chain's id once registered (POST /v1/models): the same on every replica, so examples can use it. */
export const twoWeightId = modelId(canonicalJson(twoWeightModel)!);

export const twoWeight = {
  model: twoWeightModel,
  params: { w1: 0.5, w2: -1.5 },
  inputs: { x: 2, t: 1 },
};

/** XOR with a 2-4-1 tanh MLP; parameters come from the seeded initializer. */
export const xorMlp = {
  model: {
    type: 'mlp',
    inputSize: 2,
    layers: [
      { units: 4, activation: 'tanh' },
      { units: 1, activation: 'sigmoid' },
    ],
    init: { scheme: 'default', seed: 0 },
  },
  inputs: [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ],
  targets: [[0], [1], [1], [0]],
  loss: { type: 'bce', reduction: 'mean' },
};

/** A small CNN on two 4×4 images, a vertical and a horizontal bar (classes 0 and 1 of 3): conv2d (two
 *  3×3 edge kernels, padding 1) → relu → max_pool2d 2 → flatten → linear → cross-entropy. The README's. */
export const smallCnn = {
  model: {
    type: 'graph',
    inputs: ['x', 'y'],
    params: { K: { shape: [2, 1, 3, 3] }, kb: { shape: [2] }, W: { shape: [3, 8] }, b: { shape: [3] } },
    nodes: [
      { id: 'c', op: 'conv2d', inputs: ['x', 'K', 'kb'], attrs: { padding: 1 } },
      { id: 'r', op: 'relu', inputs: ['c'] },
      { id: 'p', op: 'max_pool2d', inputs: ['r'], attrs: { kernelSize: 2 } },
      { id: 'f', op: 'flatten', inputs: ['p'], attrs: { startDim: 1 } },
      { id: 'z', op: 'linear', inputs: ['f', 'W', 'b'] },
      { id: 'L', op: 'cross_entropy_loss', inputs: ['z', 'y'] },
    ],
    output: 'L',
  },
  params: {
    K: [[[[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]], [[[-1, -1, -1], [0, 0, 0], [1, 1, 1]]]],
    kb: [0.1, -0.1],
    W: [
      [0.5, -0.5, 0.5, -0.5, 0.1, 0.1, 0.1, 0.1],
      [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, -0.5, -0.5],
      [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
    ],
    b: [0, 0, 0],
  },
  inputs: {
    x: [
      [[[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]]],
      [[[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]]],
    ],
    y: [0, 1],
  },
};

export const adam = { type: 'adam', lr: 0.01 };

/** OpenAPI named examples (media type `examples`), via the `x-examples` schema keyword. */
export function examples(list: [name: string, summary: string, value: unknown][]) {
  return { 'x-examples': Object.fromEntries(list.map(([name, summary, value]) => [name, { summary, value }])) };
}
