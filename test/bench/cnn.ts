// A LeNet-5-sized CNN in-process (issue 18): one gradient (conv 1→6 5×5 pad 2, relu, max_pool 2,
// conv 6→16 5×5, relu, max_pool 2, flatten, linear 400→120→84→10 with relus, cross-entropy; a batch of
// 64 28×28 float32 images) on the engine with its default kernels, against PyTorch computing the same
// in this run (test/bench/torch-cnn.py); and the typed-array bytes the call allocates, against the
// request's tensors plus the activations PyTorch keeps for its backward pass.
import type { GradientsJob } from '../../src/engine/api.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { round, tensorBytes, uniform, type Ctx, type Row } from './common.js';
import { modelVersusTorch } from './compute.js';
import { allocation } from './memory.js';

const BATCH = 64;

/** [name, shape, fan_in] of each parameter, torch's layer order; nn.Conv2d / nn.Linear's U(±1/√fan_in) values. */
const PARAMS: [string, number[], number][] = [
  ['c1.weight', [6, 1, 5, 5], 25], ['c1.bias', [6], 25],
  ['c2.weight', [16, 6, 5, 5], 150], ['c2.bias', [16], 150],
  ['f1.weight', [120, 400], 400], ['f1.bias', [120], 400],
  ['f2.weight', [84, 120], 120], ['f2.bias', [84], 120],
  ['f3.weight', [10, 84], 84], ['f3.bias', [10], 84],
];

const node = (id: string, op: string, inputs: string[], attrs?: Record<string, unknown>) => ({ id, op, inputs, ...(attrs ? { attrs } : {}) });

export const lenetModel = {
  type: 'graph' as const,
  inputs: ['x', 'y'],
  params: Object.fromEntries(PARAMS.map(([name, shape]) => [name, { shape }])),
  constants: {},
  nodes: [
    node('c1', 'conv2d', ['x', 'c1.weight', 'c1.bias'], { padding: 2 }), node('r1', 'relu', ['c1']),
    node('p1', 'max_pool2d', ['r1'], { kernelSize: 2 }),
    node('c2', 'conv2d', ['p1', 'c2.weight', 'c2.bias']), node('r2', 'relu', ['c2']),
    node('p2', 'max_pool2d', ['r2'], { kernelSize: 2 }),
    node('f', 'flatten', ['p2'], { startDim: 1 }),
    node('h1', 'linear', ['f', 'f1.weight', 'f1.bias']), node('a1', 'relu', ['h1']),
    node('h2', 'linear', ['a1', 'f2.weight', 'f2.bias']), node('a2', 'relu', ['h2']),
    node('z', 'linear', ['a2', 'f3.weight', 'f3.bias']),
    node('L', 'cross_entropy_loss', ['z', 'y']),
  ],
  output: 'L',
};

export function lenetJob(): GradientsJob {
  const params = Object.fromEntries(
    PARAMS.map(([name, shape, fanIn], i): [string, Tensor] => [name, { shape, data: uniform(shape.reduce((a, b) => a * b, 1), 11 + i, 1 / Math.sqrt(fanIn)) }]),
  );
  const y = new Float32Array(BATCH);
  for (let r = 0; r < BATCH; r++) y[r] = (r * 7) % 10;
  return {
    model: lenetModel,
    params,
    inputs: { x: { shape: [BATCH, 1, 28, 28], data: uniform(BATCH * 28 * 28, 7) }, y: { shape: [BATCH], data: y } },
    options: { dtype: 'float32', returnOutputs: false, returnIntermediates: false, inputGradients: false, diagnostics: true },
  };
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const name = `LeNet-5 CNN (batch ${BATCH}, 1×28×28, float32)`;
  const row = (what: string, value: number, unit: string, extra: Partial<Row> = {}) =>
    rows.push({ scenario: 'cnn', name: `${name}: ${what}`, value: round(value, unit === 'ms' ? 3 : 2), exact: value, unit, ...extra });
  const job = lenetJob();
  const torch = await modelVersusTorch(ctx, { what: 'CNN', job, key: 'lenet', script: 'torch-cnn.py', config: { batch: BATCH } }, row);

  ctx.log('cnn: memory');
  // a failed measurement (a collection during every call) is a row: the timings above stand
  const measured = await allocation(job).catch((err: Error) => {
    row('typed arrays allocated by gradients(), cold cache (≥ peak)', NaN, 'MiB', { note: err.message });
    return null;
  });
  if (!measured) return rows;
  const { cold } = measured;
  const { inputs, params } = job;
  const requestBytes = tensorBytes([...Object.values(inputs as Record<string, Tensor>), ...Object.values(params)]);
  row('request tensor bytes (inputs, targets, params)', requestBytes / 2 ** 20, 'MiB');
  row('typed arrays allocated by gradients(), cold cache (≥ peak)', cold / 2 ** 20, 'MiB');
  const saved = torch?.savedBytes;
  if (saved !== undefined) {
    row('activations PyTorch saves for backward (saved_tensors_hooks; not the input or params)', saved / 2 ** 20, 'MiB');
    row('allocated / (request tensor bytes + PyTorch saved bytes)', cold / (requestBytes + saved), '×', {
      target: { op: '<=', limit: 3, label: 'CNN peak allocation / (tensors + PyTorch activations)' },
    });
  }
  return rows;
}
