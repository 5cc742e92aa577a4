import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { LARGE, mlpBody } from '../bench/common.js';
import { startServer, type ServerProcess } from './server-process.js';

// The server process's threads, as Linux sees them: the worker threads (and the OpenBLAS threads they
// start) run WORKER_NICE levels below the event loop; OpenBLAS's idle threads, which spin for about
// 0.1 s after each threaded product unless told to sleep sooner, are told (src/server.ts).

/** Each thread's /proc stat fields after its name (utime at 11, stime at 12, nice at 16), by thread id. */
function threadStats(pid: number): Map<string, string[]> {
  const stats = new Map<string, string[]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      stats.set(tid, stat.slice(stat.lastIndexOf(')') + 2).split(' '));
    } catch {
      // the thread ended
    }
  }
  return stats;
}

/** CPU time of all the process's threads so far, in ms (10 ms ticks). */
function cpuMs(pid: number): number {
  let ticks = 0;
  for (const f of threadStats(pid).values()) ticks += Number(f[11]) + Number(f[12]);
  return ticks * 10;
}

/** The nice value of each thread: the event loop's (the process id's) and the others'. */
function niceness(pid: number): { main: number; others: number[] } {
  const stats = threadStats(pid);
  return { main: Number(stats.get(String(pid))![16]), others: [...stats].filter(([tid]) => tid !== String(pid)).map(([, f]) => Number(f[16])) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(process.platform !== 'linux')('the server\'s threads', () => {
  let server: ServerProcess;
  let backend = '';
  beforeAll(async () => {
    server = await startServer({ WORKERS: '2', LOG_LEVEL: 'info' });
    backend = /"backend":"(\w+)"/.exec(server.output())?.[1] ?? '';
  }, 30_000);
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('workers run WORKER_NICE (10) levels below the event loop, and only they', () => {
    const { main, others } = niceness(server.child.pid!);
    expect(main).toBe(0);
    // two workers, and the OpenBLAS thread one of them started; V8's and libuv's own threads stay at 0
    expect(others.filter((n) => n === 10).length).toBeGreaterThanOrEqual(2);
    expect(others.every((n) => n === 0 || n === 10)).toBe(true);
  });

  it('WORKER_NICE=0 leaves every thread at the event loop\'s', async () => {
    const same = await startServer({ WORKERS: '2', LOG_LEVEL: 'warn', WORKER_NICE: '0' });
    try {
      const { main, others } = niceness(same.child.pid!);
      expect([main, ...others].every((n) => n === 0)).toBe(true);
    } finally {
      same.child.kill('SIGTERM');
      await same.exited;
    }
  }, 30_000);

  it('OpenBLAS threads stop spinning within milliseconds of an answer', async (ctx) => {
    if (backend !== 'openblas') ctx.skip();
    const body = mlpBody(LARGE, 'base64');
    const post = async () => {
      const r = await fetch(`${server.base}/v1/gradients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    };
    for (let i = 0; i < 3; i++) await post();
    // the least over a few tries: another process on the machine may take the odd tick
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) {
      await post();
      const before = cpuMs(server.child.pid!);
      await sleep(400);
      idle.push(cpuMs(server.child.pid!) - before);
    }
    // a spinning thread would take ~100 ms of these 400
    expect(Math.min(...idle)).toBeLessThan(50);
  }, 60_000);
});
