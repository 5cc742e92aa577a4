// GEMM throughput per backend × dtype × transpose variant on 256×512×512 (one thread).
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { blasInfo } from '../../src/engine/kernels/openblas.js';
import { probeBackends } from '../../src/engine/kernels/select.js';

export interface Row {
  scenario: string;
  name: string;
  value: number;
  unit: string;
  [detail: string]: unknown;
}

const M = 256;
const N = 512;
const K = 512;
// Warm-up is timed, not counted: V8 runs new wasm code in its baseline tier until the optimizing
// compile (on a background thread, slow on a busy machine) replaces it.
const WARMUP_MS = 300;
/** each variant runs RUNS_PER_ROUND times per round, ROUNDS rounds: 30 runs each */
const ROUNDS = 10;
const RUNS_PER_ROUND = 3;
const VARIANTS = [
  { variant: 'A·B', transA: false, transB: false },
  { variant: 'Aᵀ·B', transA: true, transB: false },
  { variant: 'A·Bᵀ', transA: false, transB: true },
] as const;

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const probe of probeBackends()) {
    if (!probe.backend) {
      console.warn(`gemm bench: skipping ${probe.name}: ${probe.reason}`);
      continue;
    }
    const { gemm } = probe.backend;
    for (const dtype of ['float32', 'float64'] as const) {
      const make = (n: number) => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
      const a = make(M * K).map(() => Math.random() - 0.5);
      const b = make(K * N).map(() => Math.random() - 0.5);
      const c = make(M * N);
      // Stored shapes follow the flags: Aᵀ is stored K×M, Bᵀ is stored N×K.
      const calls = VARIANTS.map(({ transA, transB }) => () => gemm(transA, transB, M, N, K, 1, a, transA ? M : K, b, transB ? K : N, 0, c, N));
      for (const call of calls) for (const end = performance.now() + WARMUP_MS; performance.now() < end; ) call();
      // The variants take turns, a few runs each, so a slow spell of this shared machine (its speed
      // drifts by 2× within seconds) falls on all three alike instead of on whichever ran then.
      const times: number[][] = VARIANTS.map(() => []);
      const cpuTimes: number[][] = VARIANTS.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        calls.forEach((call, v) => {
          for (let i = 0; i < RUNS_PER_ROUND; i++) {
            const t0 = performance.now();
            const c0 = process.cpuUsage();
            call();
            const dc = process.cpuUsage(c0);
            times[v]!.push(performance.now() - t0);
            cpuTimes[v]!.push((dc.user + dc.system) / 1000);
          }
        });
        // Let a colleague's process on the shared 2 cores run between rounds.
        await new Promise((resolve) => setImmediate(resolve));
      }
      VARIANTS.forEach(({ variant }, v) => {
        const ms = median(times[v]!);
        const gflops = (t: number) => Math.round((2 * M * N * K) / t / 1e5) / 10;
        rows.push({
          scenario: 'gemm',
          name: `${probe.name} ${dtype} ${variant} ${M}×${N}×${K}`,
          value: gflops(ms),
          exact: (2 * M * N * K) / ms / 1e6,
          unit: 'GFLOP/s',
          backend: probe.name,
          dtype,
          variant,
          medianMs: Math.round(ms * 1000) / 1000,
          bestGflops: gflops(Math.min(...times[v]!)),
          // On a shared machine wall time includes waiting for a core; process CPU time does not
          // (with one BLAS thread the process's CPU time is this thread's).
          cpuGflops: gflops(median(cpuTimes[v]!)),
          ...(probe.name === 'openblas' ? { blas: blasInfo() } : {}),
        });
      });
    }
  }
  return rows;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1]!;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run();
  console.table(rows.map(({ name, value, unit, medianMs, bestGflops, cpuGflops }) => ({ name, value, unit, medianMs, bestGflops, cpuGflops })));
}
