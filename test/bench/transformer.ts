// The one-block transformer (test/bench/transformer-model.ts), float32, in-process: one gradient on the
// engine with its default kernels against PyTorch on the same block, both in this run (issue 18's
// targets: forward + backward ≤ 1.5× PyTorch's, backward / forward ≤ 2.5); and what one gradients()
// call allocates against the request's tensors plus the activations PyTorch keeps for its backward pass.
import { round, tensorBytes, type Ctx, type Row } from './common.js';
import { modelVersusTorch } from './compute.js';
import { allocation } from './memory.js';
import { describeTransformer, TRANSFORMER, transformerData, transformerJob } from './transformer-model.js';

const LIMITS = { maxElements: 20_000_000, maxNodes: 10_000 };

export async function run(ctx: Ctx): Promise<Row[]> {
  const m = TRANSFORMER;
  const data = transformerData(m);
  const job = transformerJob(m, data);
  const { batch, seq, d, heads, hidden, vocab } = m;
  const rows: Row[] = [];
  const row = (name: string, value: number, unit: string, extra: Partial<Row> = {}) =>
    rows.push({ scenario: 'transformer', name: `${m.key} (${describeTransformer(m)}): ${name}`, value: round(value, unit === 'ms' ? 3 : 2), exact: value, unit, ...extra });

  const torch = await modelVersusTorch(ctx, { what: 'transformer', job, limits: LIMITS, key: m.key, script: 'torch-transformer.py', config: { batch, seq, d, heads, hidden, vocab } }, row);

  ctx.log('transformer: memory');
  const requestBytes = tensorBytes([...Object.values(data.inputs), ...Object.values(data.params)]);
  row('request tensor bytes (inputs, targets, params)', requestBytes / 2 ** 20, 'MiB');
  if (torch?.savedBytes !== undefined) row(`activations PyTorch ${torch.version} keeps for backward`, torch.savedBytes / 2 ** 20, 'MiB');
  let cold: number;
  try {
    ({ cold } = await allocation(job, LIMITS));
  } catch (err) {
    // the method needs one call without a collection; V8 may collect during every call this large
    row('typed arrays allocated by gradients()', NaN, 'MiB', { note: `skipped: ${(err as Error).message}` });
    return rows;
  }
  row('typed arrays allocated by gradients(), cold cache (≥ peak)', cold / 2 ** 20, 'MiB');
  if (torch?.savedBytes !== undefined) {
    row('allocated / (request tensor bytes + PyTorch activations)', cold / (requestBytes + torch.savedBytes), '×', {
      target: { op: '<=', limit: 3, label: 'transformer peak allocation / (tensors + PyTorch activations)' },
    });
  }
  return rows;
}
