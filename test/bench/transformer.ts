// The one-block transformer (test/bench/transformer-model.ts), float32, in-process: one gradient on the
// engine with its default kernels against PyTorch on the same block, both in this run (issue 18's
// targets: forward + backward ≤ 1.5× PyTorch's, backward / forward ≤ 2.5); and what one gradients()
// call allocates against the request's tensors plus the activations PyTorch keeps for its backward pass.
import { initKernels, setBlasThreads } from '../../src/engine/kernels/index.js';
import { breathe, round, tensorBytes, type Ctx, type Row, type TorchResult } from './common.js';
import { better, engineTiming, loneRequestThreads, type EngineTiming } from './compute.js';
import { allocation } from './memory.js';
import { torchRows, torchScript } from './torch.js';
import { describeTransformer, TRANSFORMER, transformerData, transformerJob } from './transformer-model.js';

const LIMITS = { maxElements: 20_000_000, maxNodes: 10_000 };
const ROUNDS = 2;

export async function run(ctx: Ctx): Promise<Row[]> {
  const m = TRANSFORMER;
  const backend = initKernels();
  const lone = loneRequestThreads(backend);
  const data = transformerData(m);
  const job = transformerJob(m, data);
  const { batch, seq, d, heads, hidden, vocab } = m;
  const rows: Row[] = [];
  const row = (name: string, value: number, unit: string, extra: Partial<Row> = {}) =>
    rows.push({ scenario: 'transformer', name: `${m.key} (${describeTransformer(m)}): ${name}`, value: round(value, unit === 'ms' ? 3 : 2), exact: value, unit, ...extra });

  // the same interleaving as the compute scenario: the machine's load drifts, each keeps its better round
  let engine: EngineTiming | null = null;
  let torch: TorchResult | null = null;
  for (let r = 1; r <= ROUNDS; r++) {
    ctx.log(`transformer: round ${r} of ${ROUNDS}: engine (${backend}, ${lone} threads), PyTorch`);
    setBlasThreads(lone);
    try {
      engine = better(engine, await engineTiming(job, 3, 15, LIMITS));
    } finally {
      setBlasThreads(1);
    }
    await breathe(50);
    torch = await torchScript(ctx, m.key, 'torch-transformer.py', { batch, seq, d, heads, hidden, vocab });
  }
  const label = `gradserve (${backend}${backend === 'openblas' ? `, ${lone} thread${lone > 1 ? 's' : ''}` : ''})`;
  row(`${label} forward`, engine!.forwardMs, 'ms');
  row(`${label} backward`, engine!.backwardMs, 'ms');
  row(`${label} forward + backward`, engine!.totalMs, 'ms');
  row(`${label} backward / forward`, engine!.backwardMs / engine!.forwardMs, '×', { target: { op: '<=', limit: 2.5, label: 'transformer backward / forward' } });
  const best = torchRows(torch, row);
  if (torch && best) {
    row(`${label} compute / ${best}`, engine!.totalMs / torch.best.totalMs, '×', { target: { op: '<=', limit: 1.5, label: 'transformer compute / PyTorch' } });
  }

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
