import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/net.js';

// Child processes of the deployment test: replicas of the real service (the compiled dist/ entry),
// started on free ports of 127.0.0.1 and always stopped, even when a test fails.


const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

/** Polls `probe` until it returns true; fails early if `proc` exits, and after `timeoutMs`. */
export async function waitFor(
  what: string,
  proc: ChildProcess,
  probe: () => Promise<boolean>,
  output: () => string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(proc)) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${output()}`);
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${output()}`);
    await sleep(100);
  }
}

export interface Replica {
  proc: ChildProcess;
  port: number;
  addr: string;
  output: () => string;
}

/** Starts `node <entry>` with one worker on 127.0.0.1:<free port>; resolves when /readyz says ready. */
export async function startReplica(entry: string, env: Record<string, string> = {}): Promise<Replica> {
  // env.PORT: the port of a replica being restarted
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const proc = spawn(process.execPath, [entry], {
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), WORKERS: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const replica = { proc, port, addr: `127.0.0.1:${port}`, output: () => out };
  await waitFor(`replica on port ${port}`, proc, async () => (await fetch(`http://${replica.addr}/readyz`)).ok, replica.output);
  return replica;
}

/** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. Resolves to the exit code or signal. */
export async function stop(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | string> {
  if (!exited(proc)) {
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await done;
    clearTimeout(timer);
  }
  return proc.exitCode ?? proc.signalCode!;
}
