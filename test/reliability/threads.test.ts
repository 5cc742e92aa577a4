import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { startServer, type ServerProcess } from './server-process.js';

// The server process's threads, as Linux sees them: the worker threads (and the OpenBLAS threads they
// start) run WORKER_NICE levels below the event loop.

/** The nice value of each thread (/proc stat's 19th field): the event loop's (the process id's) and the others'. */
function niceness(pid: number): { main: number; others: number[] } {
  let main = NaN;
  const others: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    if (tid === String(pid)) main = nice;
    else others.push(nice);
  }
  return { main, others };
}

describe.skipIf(process.platform !== 'linux')('the server\'s threads', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ WORKERS: '2', PROCESSES: '1', LOG_LEVEL: 'warn', WORKER_NICE: '10' });
  }, 30_000);
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('workers run WORKER_NICE levels below the event loop, and only they', () => {
    const { main, others } = niceness(server.child.pid!);
    expect(main).toBe(0);
    // two workers (and the OpenBLAS threads one of them started); V8's and libuv's own threads stay at 0
    expect(others.filter((n) => n === 10).length).toBeGreaterThanOrEqual(2);
    expect(others.every((n) => n === 0 || n === 10)).toBe(true);
  });

  it('by default (WORKER_NICE=0) every thread has the event loop\'s', async () => {
    const same = await startServer({ WORKERS: '2', PROCESSES: '1', LOG_LEVEL: 'warn' });
    try {
      const { main, others } = niceness(same.child.pid!);
      expect([main, ...others].every((n) => n === 0)).toBe(true);
    } finally {
      same.child.kill('SIGTERM');
      await same.exited;
    }
  }, 30_000);
});
