import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { LARGE, mlpBody } from '../bench/common.js';
import { startServer, type ServerProcess } from './server-process.js';

// OpenBLAS's idle threads spin for about 0.1 s after each threaded product unless told to sleep
// sooner; the server tells them (src/server.ts). A lone large request gets two OpenBLAS threads
// (kernels/threads.ts); once its answer is back, the process should be idle, not spinning.

/** CPU time of all the process's threads so far, in ms (Linux /proc, 10 ms ticks). */
function cpuMs(pid: number): number {
  let ticks = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the thread ended
    }
  }
  return ticks * 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(process.platform !== 'linux')('OpenBLAS threads after a large request', () => {
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

  it('stop spinning within milliseconds of the answer', async (ctx) => {
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
