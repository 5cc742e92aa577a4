// The PyTorch peers: test/bench/torch-*.py run by Debian's python3-torch, when it is importable.
import { join } from 'node:path';
import { round, runCommand, type Ctx, type MlpModel, type Row, type TorchConfig, type TorchResult } from './common.js';

const PYTHONS = ['/usr/bin/python3', 'python3'];

let python: string | null | undefined;

/** The first interpreter that imports torch, or null (the scenarios then skip the peer with a note). */
export async function findTorchPython(): Promise<string | null> {
  if (python !== undefined) return python;
  python = null;
  for (const p of PYTHONS) {
    try {
      await runCommand(p, ['-c', 'import torch']);
      python = p;
      break;
    } catch {
      // not this one
    }
  }
  return python;
}

interface ScriptOutput {
  torch: string;
  results: { threads: number; forwardMs: number; backwardMs: number; totalMs: number }[];
  savedBytes?: number;
}

/**
 * Forward and backward times of PyTorch on the same model, measured now. PyTorch's products run on
 * OpenBLAS's own thread pool, which torch.set_num_threads does not limit, so each OpenBLAS thread
 * count is a separate process: (intra-op 1, BLAS 1), (1, 2) and (2, 2); the best is the peer.
 * Scenarios measure PyTorch more than once, interleaved with their own measurements (the machine's
 * load drifts): ctx.torch keeps each config's best time over all of them (`best`), and `latest` is
 * this measurement's fastest config alone.
 */
export async function torchPeer(ctx: Ctx, m: MlpModel): Promise<TorchResult | null> {
  return torchScript(ctx, m.key, 'torch-mlp.py', { batch: m.batch, sizes: m.sizes });
}

/** torchPeer for any peer script of test/bench taking a JSON config (plus threads and runs) as torch-mlp.py does. */
export async function torchScript(ctx: Ctx, key: string, file: string, model: Record<string, unknown>): Promise<TorchResult | null> {
  if (ctx.torch.get(key) === null) return null;
  const py = await findTorchPython();
  if (!py) {
    ctx.torch.set(key, null);
    return null;
  }
  const script = join(ctx.root, 'test/bench', file);
  const configs: TorchConfig[] = [];
  let version = '';
  let savedBytes: number | undefined;
  for (const [blas, threads] of [[1, [1]], [2, [1, 2]]] as const) {
    const arg = JSON.stringify({ ...model, threads, runs: 30 });
    const out = JSON.parse(await runCommand(py, [script, arg], { OPENBLAS_NUM_THREADS: String(blas), OMP_NUM_THREADS: String(Math.max(...threads)) })) as ScriptOutput;
    version = out.torch;
    savedBytes = out.savedBytes;
    for (const r of out.results) configs.push({ intraOp: r.threads, blas, forwardMs: r.forwardMs, backwardMs: r.backwardMs, totalMs: r.forwardMs + r.backwardMs });
  }
  const before = ctx.torch.get(key);
  const merged = configs.map((c) => {
    const old = before?.configs.find((o) => o.intraOp === c.intraOp && o.blas === c.blas);
    return old && old.totalMs < c.totalMs ? old : c;
  });
  const fastest = (cs: TorchConfig[]) => cs.reduce((a, b) => (b.totalMs < a.totalMs ? b : a));
  const result = { version, configs: merged, best: fastest(merged), latest: fastest(configs), ...(savedBytes === undefined ? {} : { savedBytes }) };
  ctx.torch.set(key, result);
  return result;
}

/** The best PyTorch times measured so far in this run (null: no PyTorch here; undefined: not measured yet). */
export function torchSoFar(ctx: Ctx, m: MlpModel): TorchResult | null | undefined {
  return ctx.torch.get(m.key);
}

/**
 * The rows of each PyTorch config's forward + backward (or one row saying why there is none); returns
 * the label of the best config, for the rows that compare with it, or null without PyTorch.
 */
export function torchRows(torch: TorchResult | null, row: (name: string, value: number, unit: string, extra?: Partial<Row>) => void): string | null {
  if (!torch) {
    row('PyTorch', NaN, 'ms', { note: 'skipped: python3 with torch (Debian python3-torch) is not importable' });
    return null;
  }
  for (const c of torch.configs) {
    row(`PyTorch ${torch.version} (intra-op ${c.intraOp}, OpenBLAS ${c.blas} threads) forward + backward`, c.totalMs, 'ms', {
      forwardMs: round(c.forwardMs), backwardMs: round(c.backwardMs),
    });
  }
  return `PyTorch best (intra-op ${torch.best.intraOp}, OpenBLAS ${torch.best.blas})`;
}
