// The one-block transformer of the bench (issue 18) at the size: the graph of the OpenAPI example
// (src/routes/shared/examples.ts); test/bench/torch-transformer.py builds the same in PyTorch.
import type { GradientsJob } from '../../src/engine/api.js';
import { GraphSpecSchema } from '../../src/wire/spec.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { transformerBlock, type TransformerSizes } from '../../src/routes/shared/examples.js';
import { uniform } from './common.js';

export interface TransformerModel extends TransformerSizes {
  key: string;
}

export const TRANSFORMER: TransformerModel = { key: 'transformer', batch: 16, seq: 64, d: 128, heads: 4, hidden: 512, vocab: 256 };

export function describeTransformer(m: TransformerModel): string {
  return `batch ${m.batch}, sequence ${m.seq}, d ${m.d}, ${m.heads} heads, MLP ${m.hidden}, vocab ${m.vocab}`;
}

/**
 * Linear layers in nn.Linear's U(±1/√in) range, LayerNorms at ones and zeros, embeddings in [-1, 1);
 * ids in [0, vocab) and, as targets, each sequence's next ids (−100 after its last).
 */
export function transformerData(m: TransformerModel): { params: Record<string, Tensor>; inputs: Record<string, Tensor> } {
  const spec = transformerBlock(m);
  const params: Record<string, Tensor> = {};
  Object.entries(spec.params).forEach(([name, { shape }], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = name.startsWith('ln')
      ? new Float32Array(n).fill(name.endsWith('weight') ? 1 : 0)
      : uniform(n, 31 + i, name.startsWith('embed') || name.startsWith('pos') ? 1 : 1 / Math.sqrt(name.startsWith('fc2') ? m.hidden : m.d));
    params[name] = { shape, data };
  });
  const tokens = new Float32Array(m.batch * m.seq);
  for (let i = 0; i < tokens.length; i++) tokens[i] = (i * 37 + 11) % m.vocab;
  const next = tokens.map((_, i) => ((i + 1) % m.seq === 0 ? -100 : tokens[i + 1]!));
  return {
    params,
    inputs: { tokens: { shape: [m.batch, m.seq], data: tokens }, c: { shape: [m.batch * m.seq], data: next } },
  };
}

export function transformerJob(m: TransformerModel, data = transformerData(m)): GradientsJob {
  return {
    model: { ...GraphSpecSchema.parse(transformerBlock(m)), constants: {} },
    params: data.params,
    inputs: data.inputs,
    options: { dtype: 'float32', returnOutputs: false, returnIntermediates: false, inputGradients: false, diagnostics: true },
  };
}
