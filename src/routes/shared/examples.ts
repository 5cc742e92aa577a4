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
    // a vertical and a horizontal bar, uneven so that no pooling window has two equal maxima and no
    // convolution output sits on relu's kink: /v1/gradcheck passes on this example too
    x: [
      [[[0.16, 0.93, 0.89, 0.27], [0.24, 0.84, 0.91, 0.29], [0.12, 0.84, 0.87, 0.11], [0.08, 0.77, 0.9, 0.15]]],
      [[[0.28, 0.22, 0.27, 0.1], [0.76, 0.7, 0.84, 0.96], [0.83, 0.73, 0.96, 0.9], [0.12, 0.24, 0.27, 0.18]]],
    ],
    y: [0, 1],
  },
};

export const adam = { type: 'adam', lr: 0.01 };

/**
 * torch's nn.Linear(3, 2) as torch.onnx.export writes it (one Gemm node, output "logits", a dynamic
 * batch): test/fixtures/onnx/tiny.onnx, made by scripts/gen-onnx-fixtures.py, whose gradients the
 * ONNX route test checks against torch's.
 */
export const tinyOnnxModel = {
  type: 'onnx',
  bytes: 'CAgSB3B5dG9yY2gaBjEuMTMuMDrcAQpWCgF4CgZ3ZWlnaHQKBGJpYXMSBmxvZ2l0cxoFL0dlbW0iBEdlbW0qDwoFYWxwaGEVAACAP6ABASoOCgRiZXRhFQAAgD+gAQEqDQoGdHJhbnNCGAGgAQISCXRvcmNoX2ppdCooCAIIAxABQgZ3ZWlnaHRKGOijjbsTk54+fkvzvsmL2b6xtGO+U4kePioUCAIQAUIEYmlhc0oIQGs7vHph6j5aGAoBeBITChEIARINCgcSBWJhdGNoCgIIA2IdCgZsb2dpdHMSEwoRCAESDQoHEgViYXRjaAoCCAJCAhAR',
};

export const tinyOnnx = {
  model: tinyOnnxModel,
  inputs: { x: [[1, 2, 3], [-1, 0.5, 2]] },
  targets: [1, 0],
  loss: { type: 'cross_entropy', output: 'logits' },
};

/** OpenAPI named examples (media type `examples`), via the `x-examples` schema keyword. */
export function examples(list: [name: string, summary: string, value: unknown][]) {
  return { 'x-examples': Object.fromEntries(list.map(([name, summary, value]) => [name, { summary, value }])) };
}

export interface TransformerSizes {
  batch: number;
  seq: number;
  d: number;
  heads: number;
  /** the MLP's hidden width */
  hidden: number;
  vocab: number;
}

/**
 * A one-block transformer language model, as a graph: token ids [batch, seq] → embedding + learned
 * positions → layernorm → q, k, v linear → heads [batch, heads, seq, d/heads] → causal attention →
 * heads merged → linear → residual → layernorm → linear d→hidden → gelu → linear hidden→d → residual →
 * linear to the vocabulary → cross-entropy against the next ids c [batch·seq] (−100, torch's
 * ignore_index, where there is none). Parameter names and layouts are PyTorch's (nn.Embedding,
 * nn.Linear, nn.LayerNorm); those a request leaves out are initialized as those modules do (biases at 0).
 */
export function transformerBlock({ batch: B, seq: T, d, heads: H, hidden, vocab }: TransformerSizes) {
  const param = (scheme: 'default' | 'normal' | 'ones' | 'zeros', ...shape: number[]) => ({ shape, init: { scheme } });
  const linear = (name: string, out: number, inF: number) => ({ [`${name}.weight`]: param('default', out, inF), [`${name}.bias`]: param('zeros', out) });
  const norm = (name: string) => ({ [`${name}.weight`]: param('ones', d), [`${name}.bias`]: param('zeros', d) });
  const node = (id: string, op: string, inputs: string[], attrs?: Record<string, unknown>) => ({ id, op, inputs, ...(attrs ? { attrs } : {}) });
  const heads = (p: string) => [
    node(p, 'linear', ['h1', `${p}.weight`, `${p}.bias`]),
    node(`${p}s`, 'reshape', [p], { shape: [B, T, H, d / H] }),
    node(`${p}h`, 'transpose', [`${p}s`], { perm: [0, 2, 1, 3] }),
  ];
  return {
    type: 'graph',
    inputs: ['tokens', 'c'],
    params: {
      'embed.weight': param('normal', vocab, d),
      'pos.weight': param('normal', T, d),
      ...norm('ln1'), ...linear('q', d, d), ...linear('k', d, d), ...linear('v', d, d), ...linear('proj', d, d),
      ...norm('ln2'), ...linear('fc1', hidden, d), ...linear('fc2', d, hidden), ...linear('head', vocab, d),
    },
    nodes: [
      node('e', 'embedding', ['tokens', 'embed.weight']),
      node('x', 'add', ['e', 'pos.weight']),
      node('h1', 'layernorm', ['x', 'ln1.weight', 'ln1.bias']),
      ...heads('q'), ...heads('k'), ...heads('v'),
      node('att', 'scaled_dot_product_attention', ['qh', 'kh', 'vh'], { causal: true }),
      node('merged', 'transpose', ['att'], { perm: [0, 2, 1, 3] }),
      node('m', 'reshape', ['merged'], { shape: [B, T, d] }),
      node('o', 'linear', ['m', 'proj.weight', 'proj.bias']),
      node('r1', 'add', ['x', 'o']),
      node('h2', 'layernorm', ['r1', 'ln2.weight', 'ln2.bias']),
      node('f1', 'linear', ['h2', 'fc1.weight', 'fc1.bias']),
      node('g', 'gelu', ['f1']),
      node('f2', 'linear', ['g', 'fc2.weight', 'fc2.bias']),
      node('r2', 'add', ['r1', 'f2']),
      node('logits', 'linear', ['r2', 'head.weight', 'head.bias']),
      node('flat', 'reshape', ['logits'], { shape: [B * T, vocab] }),
      node('loss', 'cross_entropy_loss', ['flat', 'c']),
    ],
    output: 'loss',
  };
}

const TINY: TransformerSizes = { batch: 2, seq: 4, d: 8, heads: 2, hidden: 16, vocab: 11 };

/** The model at Swagger UI's size: two sequences of ids, each predicting the next; the service draws the parameters. */
export const tinyTransformer = {
  model: transformerBlock(TINY),
  inputs: {
    tokens: [
      [3, 1, 4, 1],
      [5, 9, 2, 6],
    ],
    c: [1, 4, 1, -100, 9, 2, 6, -100],
  },
};
