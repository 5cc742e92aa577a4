import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from '../../../src/engine/op.js';
import { mul } from '../../../src/engine/ops/mul.js';
import { ALL_OPS, OPS } from '../../../src/engine/ops/index.js';

const here = dirname(fileURLToPath(import.meta.url));

// the op set of docs/api.md "Ops", the public contract
const API_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'neg', 'abs', 'exp', 'log', 'sqrt', 'square', 'reciprocal', 'sin', 'cos',
  'identity', 'relu', 'leaky_relu', 'elu', 'selu', 'gelu', 'gelu_tanh', 'silu', 'sigmoid', 'tanh', 'softplus', 'softsign', 'clamp',
  'matmul', 'linear', 'transpose', 'reshape', 'concat', 'slice', 'squeeze', 'unsqueeze',
  'sum', 'mean', 'max', 'logsumexp',
  'softmax', 'log_softmax', 'layernorm', 'batchnorm', 'dropout',
  'mse_loss', 'l1_loss', 'huber_loss', 'bce_loss', 'bce_with_logits_loss', 'cross_entropy_loss', 'nll_loss',
  // issue 18, indexing and selection
  'embedding', 'gather', 'index_select', 'where', 'masked_fill', 'expand', 'broadcast_to', 'cumsum',
  'conv1d', 'conv2d', 'max_pool2d', 'avg_pool2d', 'adaptive_avg_pool2d', 'flatten',
  // issue 18, attention
  'scaled_dot_product_attention',
];

describe('op registry', () => {
  it('holds exactly the public op set', () => {
    expect([...OPS.keys()].sort()).toEqual([...API_OPS].sort());
    expect(OPS.size).toBe(ALL_OPS.length);
  });

  it('throws on a duplicate name', () => {
    expect(() => buildRegistry([mul, mul])).toThrow(/duplicate op name in registry: mul/);
  });

  it.each(ALL_OPS.map((op) => [op.name]))('%s has a test file that checks its VJP against finite differences', (name) => {
    const file = join(here, `${name.replace(/_/g, '-')}.test.ts`);
    expect(existsSync(file), `missing ${file}`).toBe(true);
    expect(readFileSync(file, 'utf8')).toMatch(/\bcheckVjp\(/);
  });
});
