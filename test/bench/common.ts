// Shared pieces of the bench scenarios: the row format, targets, timing helpers, and the models that
// several scenarios run (the engine job, the JSON body and the PyTorch peer all describe the same one).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { GradientsJob } from '../../src/engine/api.js';
import { encodeTensor, type Encoding } from '../../src/wire/tensor.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { freePort } from '../helpers/net.js';
import { NODE_FLAGS, SERVER_JS } from '../reliability/server-process.js';

/** A goal a row's value is held to; the runner prints it with PASS or FAIL. */
export interface Target {
  op: '<=' | '>=';
  limit: number;
  /** what is compared, e.g. "service compute / PyTorch" */
  label: string;
  /**
   * The name of the row, in the same run, that measured the best any server could score here (bare
   * Fastify moving the same bytes, say): a target that row misses too is out of reach on this machine
   * in that run, and the runner says so beside it.
   */
  reach?: string;
}

export interface Row {
  scenario: string;
  name: string;
  value: number;
  unit: string;
  /** the unrounded value, where `value` is rounded for the table: a target is judged on it */
  exact?: number;
  target?: Target;
  [detail: string]: unknown;
}

export interface Ctx {
  /** the package root (where dist/ and build/ are) */
  root: string;
  /** progress lines go to stderr so that stdout holds only the report */
  log: (msg: string) => void;
  /** shared between scenarios: the PyTorch peer's timings, measured once per model */
  torch: Map<string, TorchResult | null>;
}

export interface TorchConfig {
  /** torch.set_num_threads */
  intraOp: number;
  /** OPENBLAS_NUM_THREADS: PyTorch's matrix products run on OpenBLAS's own thread pool */
  blas: number;
  forwardMs: number;
  backwardMs: number;
  totalMs: number;
}

export interface TorchResult {
  version: string;
  configs: TorchConfig[];
  /** the fastest config by forward + backward, over every measurement of the run so far */
  best: TorchConfig;
  /** the fastest config of the latest measurement alone */
  latest: TorchConfig;
  /** bytes of the activations autograd keeps for the backward pass, when the peer script reports them */
  savedBytes?: number;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `f` `warmup` times unmeasured, then `runs` times; returns each run's measurements. */
export async function repeat<T>(warmup: number, runs: number, f: () => T | Promise<T>): Promise<T[]> {
  for (let i = 0; i < warmup; i++) await f();
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await f());
  return out;
}

/** Median wall time of `f` in milliseconds. */
export async function timeMs(warmup: number, runs: number, f: () => unknown): Promise<number> {
  const times = await repeat(warmup, runs, async () => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  });
  return median(times);
}

/** Lets other processes on the shared cores run between measurements. */
export const breathe = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Models

export interface MlpModel {
  /** key of the model in the report and of its PyTorch timings */
  key: string;
  batch: number;
  /** layer widths, input first; ReLU between layers, none after the last; cross-entropy loss */
  sizes: number[];
}

export const LARGE: MlpModel = { key: 'large', batch: 256, sizes: [784, 512, 512, 10] };
export const SMALL: MlpModel = { key: 'small', batch: 32, sizes: [64, 128, 10] };

export function describe(m: MlpModel): string {
  return `batch ${m.batch}, ${m.sizes.join('-')}`;
}

/** The 4-decimal number a float32 from `uniform` was made from (its shortest JSON form). */
const short = (v: number): number => Math.round(v * 1e4) / 1e4;

/**
 * Deterministic values in [-scale, scale) (a 32-bit LCG) with 4 decimals, so that JSON bodies write
 * them in a few characters (the nested large-model body stays under the default 16 MiB body limit).
 */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = short(((s / 2 ** 32) * 2 - 1) * scale);
  }
  return out;
}


export interface MlpData {
  inputs: Tensor;
  /** class indices, as float32 like the wire gives them */
  targets: Tensor;
  /** `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out], nn.Linear's U(±1/√in) range */
  params: Record<string, Tensor>;
}

export function mlpData(m: MlpModel): MlpData {
  const { batch, sizes } = m;
  const params: Record<string, Tensor> = {};
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [inF, outF] = [sizes[i]!, sizes[i + 1]!];
    const bound = 1 / Math.sqrt(inF);
    params[`layers.${i}.weight`] = { shape: [outF, inF], data: uniform(outF * inF, 11 + i, bound) };
    params[`layers.${i}.bias`] = { shape: [outF], data: uniform(outF, 101 + i, bound) };
  }
  const classes = sizes.at(-1)!;
  const targets = new Float32Array(batch);
  for (let r = 0; r < batch; r++) targets[r] = (r * 7) % classes;
  return {
    inputs: { shape: [batch, sizes[0]!], data: uniform(batch * sizes[0]!, 7) },
    targets: { shape: [batch], data: targets },
    params,
  };
}

export function mlpSpec(m: MlpModel) {
  const last = m.sizes.length - 2;
  return {
    type: 'mlp' as const,
    inputSize: m.sizes[0]!,
    layers: m.sizes.slice(1).map((units, i) => ({ units, activation: i < last ? ('relu' as const) : ('identity' as const) })),
    bias: true,
    norm: 'none' as const,
    residual: false,
  };
}

/** The engine's job for one gradient of the model, with the HTTP defaults for the options. */
export function mlpJob(m: MlpModel, data = mlpData(m)): GradientsJob {
  return {
    model: mlpSpec(m),
    params: data.params,
    inputs: data.inputs,
    targets: data.targets,
    loss: { type: 'cross_entropy', reduction: 'mean' },
    options: {
      dtype: 'float32',
      returnOutputs: false,
      returnIntermediates: false,
      inputGradients: false,
      diagnostics: true,
    },
  };
}

/** The request body of the same computation, tensors in `encoding` (answers come in it too). */
export function mlpBody(m: MlpModel, encoding: Encoding, data = mlpData(m)): string {
  const enc = (t: Tensor): unknown => {
    if (encoding === 'base64') return encodeTensor(t, encoding);
    const flat = Array.from(t.data, short);
    if (encoding === 'flat') return { shape: t.shape, data: flat };
    const [rows, cols] = t.shape;
    return cols === undefined ? flat : Array.from({ length: rows! }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
  };
  return JSON.stringify({
    model: mlpSpec(m),
    params: Object.fromEntries(Object.entries(data.params).map(([k, t]) => [k, enc(t)])),
    inputs: enc(data.inputs),
    targets: enc(data.targets),
    loss: { type: 'cross_entropy', reduction: 'mean' },
    options: { encoding },
  });
}

export function tensorBytes(ts: Iterable<Tensor>): number {
  let n = 0;
  for (const t of ts) n += t.data.byteLength;
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Processes


export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `node <script>` with `env` on a free port and waits until `readyPath` answers 200.
 * Its output is discarded unless it fails to start (then stderr is in the error).
 */
export function startServer(script: string, env: Record<string, string>, readyPath: string, args: string[] = []): Promise<Child> {
  return startProcess(process.execPath, () => [script, ...args], env, readyPath);
}

/** gradserve as `npm start` runs it (its Node flags: test/reliability/server-process.ts), with `env`. */
export const startGradserve = (env: Record<string, string> = {}): Promise<Child> =>
  startProcess(process.execPath, () => [...NODE_FLAGS, SERVER_JS], env, '/readyz');

/**
 * Like startServer, for any command: `args` gets the port (also in PORT, with HOST=127.0.0.1), and it
 * has `readyS` seconds to become ready.
 */
export async function startProcess(command: string, args: (port: number) => string[], env: Record<string, string>, readyPath: string, readyS = 30): Promise<Child> {
  const port = await freePort();
  const argv = args(port);
  const script = `${command === process.execPath ? 'node' : command} ${argv.join(' ')}`;
  const child = spawn(command, argv, {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 10_000) stderr += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyS * 1000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}: ${stderr}`);
    try {
      const r = await fetch(url + readyPath);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not become ready in ${readyS} s: ${stderr}`);
    }
    await breathe(100);
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * CPU time a process and its child processes (a cluster's, PROCESSES > 1) have used so far, in ms:
 * their main threads (the event loops: a main thread's id is its process's id) and all their other
 * threads together (workers, V8's GC and compiler threads, libuv's pool). Read from /proc (Linux); null
 * elsewhere. NOTE: /proc counts in clock ticks, 100 a second on Linux x86-64 (USER_HZ), so a figure is
 * only good to 10 ms: measure over seconds.
 */
export function processCpuMs(pid: number): { mainMs: number; otherMs: number } | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let mainMs = 0;
  let otherMs = 0;
  for (const tid of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // fields after the ")" that closes the thread's name: utime is the 12th, stime the 13th
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10;
    if (tid === String(pid)) mainMs += ms;
    else otherMs += ms;
  }
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter((c) => c !== '');
  } catch {
    // no such file: a kernel without CONFIG_PROC_CHILDREN counts the process alone
  }
  for (const child of children) {
    const c = processCpuMs(Number(child));
    if (c) {
      mainMs += c.mainMs;
      otherMs += c.otherMs;
    }
  }
  return { mainMs, otherMs };
}

/** Runs a command to completion; resolves with stdout, rejects with stderr. */
export function runCommand(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err.trim()}`))));
  });
}
