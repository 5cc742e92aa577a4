// `npm run bench`: runs every scenario (or those named: `npm run bench -- compute memory`), prints one
// table and the targets with PASS/FAIL on stdout, and writes bench-report.json at the package root.
// Progress goes to stderr. Every comparison is a ratio of two measurements taken in this run.
// Each scenario runs in a process of its own (this file with `--scenario <name>`, its rows as JSON on
// stdout): this process is the client of the HTTP scenarios, and what the scenarios before left in it
// (tfjs's tensors, an in-process worker pool, thousands of answers, code optimized for other loads)
// made it a slower client whose garbage collections ran while a server computed. Run in one process,
// the service's compute measured 1.55–2.1× PyTorch's in four full runs against 1.04–1.23 with
// http-large alone (1.14 with a full collection before each scenario), and two workers / one 1.56–1.70
// against 1.74 alone.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { blasInfo, initKernels } from '../../src/engine/kernels/index.js';
import type { Ctx, Row, Target } from './common.js';
import * as cnn from './cnn.js';
import * as compute from './compute.js';
import * as elementwise from './elementwise.js';
import * as gemm from './gemm.js';
import * as httpLarge from './http-large.js';
import * as httpSmall from './http-small.js';
import * as httpWorkers from './http-workers.js';
import * as httpAbort from './http-abort.js';
import * as soak from './soak.js';
import * as memory from './memory.js';
import * as transformer from './transformer.js';
import * as onnx from './onnx.js';

interface Scenario {
  run(ctx: Ctx): Promise<Row[]>;
}

const SCENARIOS: Record<string, Scenario> = {
  gemm,
  compute,
  memory,
  cnn,
  'http-small': httpSmall,
  'http-large': httpLarge,
  'http-workers': httpWorkers,
  transformer,
  elementwise,
  onnx,
  'http-abort': httpAbort,
  soak,
};
const HTTP = new Set(['http-small', 'http-large', 'http-workers', 'http-abort', 'soak']);

/** Issue 4, target 3: the wasm kernel's floor on 256×512×512, in every transpose variant. */
const WASM_GEMM_FLOOR: Record<string, number> = { float32: 25, float64: 14 };

function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test/bench'))) return dir;
    if (dirname(dir) === dir) throw new Error('bench: package root not found');
  }
}

function withGemmTargets(rows: Row[]): Row[] {
  return rows.map((r) => {
    const floor = r.backend === 'wasm' ? WASM_GEMM_FLOOR[String(r.dtype)] : undefined;
    return floor === undefined ? r : { ...r, target: { op: '>=', limit: floor, label: `wasm GEMM ${String(r.dtype)}` } };
  });
}

type Verdict = 'PASS' | 'FAIL' | 'SKIP';

/** Judged on the unrounded value: 1.2505 shown as 1.25 is over a limit of 1.25. */
function verdict(r: Row, t: Target): Verdict {
  const value = r.exact ?? r.value;
  if (!Number.isFinite(value)) return 'SKIP';
  return (t.op === '<=' ? value <= t.limit : value >= t.limit) ? 'PASS' : 'FAIL';
}

/**
 * The value of the row a target's `reach` names (the best any server could score here, measured in the
 * same run), and whether it misses the target too: then the target is out of reach on this machine.
 */
function reachOf(r: Row, rows: Row[]): { reachValue?: number; outOfReach?: boolean } {
  const name = r.target?.reach;
  const floor = name === undefined ? undefined : rows.find((x) => x.scenario === r.scenario && x.name === name);
  if (floor === undefined || !Number.isFinite(floor.value)) return {};
  return { reachValue: floor.value, outOfReach: verdict(floor, r.target!) === 'FAIL' };
}

function versionOf(root: string, pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

function table(rows: Row[]): string {
  const lines = rows.map((r) => {
    const value = Number.isFinite(r.value) ? `${r.value} ${r.unit}` : `— (${String(r.note ?? 'n/a')})`;
    const goal = r.target ? `${r.target.op} ${r.target.limit} ${verdict(r, r.target)}` : '';
    return [r.scenario, r.name, value, goal];
  });
  const head = ['scenario', 'measurement', 'value', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(fmt)].join('\n');
}

interface ScenarioOutput {
  rows: Row[];
  torch: string | null;
}

/** One scenario in this process: its rows (a failure becomes a row) and the PyTorch version it saw. */
async function runScenario(name: string, root: string): Promise<ScenarioOutput> {
  const ctx: Ctx = { root, log: (msg) => process.stderr.write(`bench: ${msg}\n`), torch: new Map() };
  initKernels();
  const t0 = performance.now();
  let rows: Row[];
  if (HTTP.has(name) && !existsSync(join(root, 'dist/src/server.js'))) {
    rows = [{ scenario: name, name: 'skipped', value: NaN, unit: '', note: 'dist/src/server.js is missing: run `npm run build`' }];
  } else {
    try {
      const got = await SCENARIOS[name]!.run(ctx);
      rows = name === 'gemm' ? withGemmTargets(got) : got;
    } catch (err) {
      ctx.log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      rows = [{ scenario: name, name: 'failed', value: NaN, unit: '', note: (err as Error).message }];
    }
  }
  ctx.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { rows, torch: [...ctx.torch.values()].find((t) => t !== null)?.version ?? null };
}

/** One scenario in a child process of its own (its progress on this process's stderr). */
function inChild(name: string): Promise<ScenarioOutput> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--scenario', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('close', (code) => {
      try {
        const got = JSON.parse(out) as ScenarioOutput;
        // JSON has no NaN (a skipped row's value): it comes back as null
        resolve({ ...got, rows: got.rows.map((r) => ({ ...r, value: r.value ?? NaN })) });
      } catch {
        resolve({ rows: [{ scenario: name, name: 'failed', value: NaN, unit: '', note: `its process exited with ${code}, no rows` }], torch: null });
      }
    });
  });
}

async function main(): Promise<void> {
  const root = packageRoot();
  const own = process.argv.indexOf('--scenario');
  if (own >= 0) {
    process.stdout.write(JSON.stringify(await runScenario(process.argv[own + 1]!, root)));
    return;
  }
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  for (const a of asked) if (!(a in SCENARIOS)) throw new Error(`unknown scenario "${a}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const names = asked.length > 0 ? asked : Object.keys(SCENARIOS);
  const backend = initKernels();
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const rows: Row[] = [];
  let torchVersion: string | null = null;
  for (const name of names) {
    const got = await inChild(name);
    rows.push(...got.rows);
    torchVersion ??= got.torch;
  }
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      /** 1-minute load average before and after the run: other processes on the cores skew every timing */
      load: { start: Number(loadAtStart.toFixed(2)), end: Number(os.loadavg()[0]!.toFixed(2)) },
    },
    versions: {
      node: process.version,
      gemmBackend: backend,
      openblas: blasInfo()?.config ?? null,
      torch: torchVersion,
      tfjs: versionOf(root, '@tensorflow/tfjs'),
      tfjsBackendWasm: versionOf(root, '@tensorflow/tfjs-backend-wasm'),
    },
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    rows,
    targets: rows.filter((r) => r.target).map((r) => ({ name: r.name, value: r.value, exact: r.exact, ...r.target!, result: verdict(r, r.target!), ...reachOf(r, rows) })),
  };
  writeFileSync(join(root, 'bench-report.json'), JSON.stringify(report, null, 2) + '\n');

  const v = report.versions;
  const { load, cores } = report.machine;
  console.log(`gradserve bench, ${report.date.slice(0, 10)}: ${report.machine.cpu}, ${cores} cores (load average ${load.start} at start, ${load.end} at end); ` +
    `Node ${v.node}, ${v.openblas ?? `gemm backend ${v.gemmBackend}`}, torch ${v.torch ?? 'n/a'}, tfjs ${v.tfjs ?? 'n/a'}`);
  if (Math.max(load.start, load.end) > cores / 2) {
    console.log(`NOTE: other processes kept the ${cores} cores busy (load ${Math.max(load.start, load.end)}); timings and ratios are less reliable than on an idle machine`);
  }
  console.log('');
  console.log(table(rows));
  console.log('\nTargets:');
  // the unrounded value beside the table's when rounding hides which side of the limit it is on
  const shown = (t: (typeof report.targets)[number]) =>
    t.exact !== undefined && t.value === t.limit && t.exact !== t.limit ? `${t.value} (${Number(t.exact.toPrecision(5))})` : `${t.value}`;
  const reachShown = (t: (typeof report.targets)[number]) =>
    t.reachValue === undefined ? '' : `  [its ${t.op === '<=' ? 'floor' : 'ceiling'} in this run: ${t.reachValue}${t.outOfReach ? ', which misses it too' : ''}]`;
  for (const t of report.targets) console.log(`  ${t.result.padEnd(4)}  ${t.label}: ${shown(t)} ${t.op} ${t.limit}  (${t.name})${reachShown(t)}`);
  const met = report.targets.filter((t) => t.result === 'PASS').length;
  const missed = report.targets.filter((t) => t.result === 'FAIL');
  const beyond = missed.filter((t) => t.outOfReach).length;
  const reachNote = beyond > 0 ? `; ${beyond} of the ${missed.length} missed out of reach in this run (their floor or ceiling misses them too)` : '';
  console.log(`\n${met} of ${report.targets.length} targets met${reachNote}; ${report.seconds} s; report in bench-report.json`);
}

await main();
