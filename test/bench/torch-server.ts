// The HTTP peer: test/bench/torch_server.py (PyTorch behind FastAPI) under uvicorn with uvloop and
// httptools, 2 worker processes, run by Debian's python3 when it imports all of them. Its answers are
// held to gradserve's before it is timed (sameAnswer).
import { get } from 'node:http';
import { join } from 'node:path';
import { breathe, runCommand, startProcess, type Child, type Ctx } from './common.js';
import { decodeTensor } from '../../src/wire/tensor.js';

const PYTHON = '/usr/bin/python3';
const WORKERS = 2;
const READY_S = 120;

export interface PeerOptions {
  /** torch.set_num_threads, OpenBLAS's and OpenMP's threads in each worker process */
  threads: number;
}

let available: string | null | undefined;

/** Why the peer cannot run here (a missing module), or null when it can. */
export async function peerMissing(): Promise<string | null> {
  if (available !== undefined) return available;
  try {
    await runCommand(PYTHON, ['-c', 'import torch, numpy, fastapi, uvicorn, uvloop, httptools']);
    available = null;
  } catch (err) {
    const m = /No module named '?([\w.]+)'?/.exec((err as Error).message);
    available = m ? `${PYTHON} has no ${m[1]}` : `${PYTHON} cannot run the peer: ${(err as Error).message.slice(0, 200)}`;
  }
  return available;
}

/** The pid that answered GET /readyz on a new connection: the worker process the kernel chose. */
function readyPid(url: string): Promise<number | null> {
  return new Promise((resolve) => {
    get(`${url}/readyz`, { agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.once('end', () => resolve(res.statusCode === 200 ? ((JSON.parse(text) as { pid?: number }).pid ?? null) : null));
    }).once('error', () => resolve(null));
  });
}

export function peerLabel(o: PeerOptions): string {
  return `PyTorch + FastAPI (uvicorn, uvloop, httptools, ${WORKERS} workers, ${o.threads} thread${o.threads > 1 ? 's' : ''} each)`;
}

/** Starts the peer and waits until every worker process answers; the caller stops it. */
export async function startPeer(ctx: Ctx, o: PeerOptions): Promise<Child> {
  const t = String(o.threads);
  const peer = await startProcess(
    PYTHON,
    (port) => [
      '-m', 'uvicorn', 'torch_server:app', '--app-dir', join(ctx.root, 'test/bench'),
      '--workers', String(WORKERS), '--loop', 'uvloop', '--http', 'httptools',
      '--host', '127.0.0.1', '--port', String(port), '--no-access-log', '--log-level', 'warning',
    ],
    { PEER_THREADS: t, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t },
    '/readyz',
    // each worker process imports torch: seconds, and many more on a busy machine
    READY_S,
  );
  // uvicorn's workers start one by one: the first may answer while the other still imports torch
  const pids = new Set<number>();
  const deadline = Date.now() + READY_S * 1000;
  while (pids.size < WORKERS && Date.now() < deadline) {
    const pid = await readyPid(peer.url);
    if (pid !== null) pids.add(pid);
    else await breathe(100);
  }
  if (pids.size < WORKERS) ctx.log(`the peer answered from ${pids.size} of ${WORKERS} workers after ${READY_S} s; timing it anyway`);
  return peer;
}

interface Answer {
  loss: number;
  gradients: Record<string, unknown>;
}

/**
 * Null when the two answers agree (loss and every gradient, to float32 rounding: the two compute in
 * different orders), else what differs. Both are in the same encoding; decoded as gradserve decodes.
 */
export function sameAnswer(ours: string, peer: string): string | null {
  const a = JSON.parse(ours) as Answer;
  const b = JSON.parse(peer) as Answer;
  const close = (x: number, y: number) => Math.abs(x - y) <= 1e-5 + 1e-4 * Math.abs(x);
  if (!close(a.loss, b.loss)) return `loss ${a.loss} against the peer's ${b.loss}`;
  const names = Object.keys(a.gradients);
  if (names.sort().join() !== Object.keys(b.gradients).sort().join()) return 'the gradients name different parameters';
  for (const name of names) {
    const x = decodeTensor(a.gradients[name], 'float64', ['gradients', name], Infinity);
    const y = decodeTensor(b.gradients[name], 'float64', ['gradients', name], Infinity);
    if (x.shape.join() !== y.shape.join()) return `gradients.${name}: shape [${x.shape.join()}] against [${y.shape.join()}]`;
    // relative to the gradient's largest element: small elements are sums of cancelling terms
    let scale = 0;
    for (const v of x.data) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.data.length; i++) {
      if (Math.abs(x.data[i]! - y.data[i]!) > 1e-4 * scale + 1e-7) return `gradients.${name}[${i}]: ${x.data[i]} against ${y.data[i]}`;
    }
  }
  return null;
}
