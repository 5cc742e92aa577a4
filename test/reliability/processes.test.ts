import { Agent } from 'node:http';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { twoWeight, twoWeightId, twoWeightModel } from '../../src/routes/shared/examples.js';
import { convBody, secondCorePartsIn, trainBody, waitFor } from './helpers.js';
import { freshRequest, postJson, startServer, type ServerProcess } from './server-process.js';

// PROCESSES=2 (src/cluster.ts): two event loops on one port. Every request here goes on a connection
// of its own, and the cluster's primary hands connections to its processes in turn, so consecutive
// requests reach both: what one process registered or deleted holds in the other, /metrics counts
// both, a process that dies is replaced, and SIGTERM drains both.

const { model: _inline, ...rest } = twoWeight;
const byRef = { ...rest, model: { ref: twoWeightId } };

/** the pids that logged an answer to `url` (pino writes each process's pid) */
function pidsServing(output: string, url: string): Set<number> {
  const pids = new Set<number>();
  for (const line of output.split('\n')) {
    if (!line.includes('"responseTime"') || !line.includes(`"url":"${url}"`)) continue;
    pids.add((JSON.parse(line) as { pid: number }).pid);
  }
  return pids;
}

/** how many of the service's processes have logged that they listen */
const listening = (server: ServerProcess) => (server.output().match(/Server listening at/g) ?? []).length;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('PROCESSES=2', () => {
  it('shares models, sums metrics, replaces a dead process and drains on SIGTERM', { timeout: 90_000 }, async () => {
    const server = await startServer({ PROCESSES: '2', WORKERS: '2', ACCESS_LOG: 'on' });
    const url = (p: string) => `${server.base}${p}`;
    try {
      // ready once both listen (startServer waited for the first one's log line): from then on the
      // primary hands connections to both
      const deadline = Date.now() + 15_000;
      while ((await freshRequest(url('/readyz'))).status !== 200) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 20));
      }
      // (log lines reach the output up to 100 ms late: log-stream.ts)
      await waitFor(() => listening(server) === 2, 500, 'both processes listening once ready');
      // registered through one process, known in both: the same id, 200 after the first
      const first = await postJson(url('/v1/models'), twoWeightModel);
      expect(first.status).toBe(201);
      expect(JSON.parse(first.body).id).toBe(twoWeightId);
      for (let i = 0; i < 3; i++) {
        const again = await postJson(url('/v1/models'), twoWeightModel);
        expect(again.status).toBe(200);
        expect(JSON.parse(again.body).id).toBe(twoWeightId);
      }
      for (let i = 0; i < 8; i++) {
        const r = await postJson(url('/v1/gradients'), byRef);
        expect(r.status, r.body).toBe(200);
        expect(JSON.parse(r.body)).toMatchObject({ loss: 6.25, gradients: { w1: 15, w2: -5 } });
      }
      for (let i = 0; i < 2; i++) expect((await freshRequest(url(`/v1/models/${twoWeightId}`))).status).toBe(200);
      // (log lines reach the output up to 100 ms late: log-stream.ts)
      await waitFor(() => pidsServing(server.output(), '/v1/gradients').size === 2, 2_000, 'both processes answering');
      const pids = pidsServing(server.output(), '/v1/gradients');

      // /metrics adds up both processes' counts, whichever process answers
      const metrics = (await freshRequest(url('/metrics'))).body;
      expect(metrics).toContain('http_requests_total{route="/v1/gradients",method="POST",status="200"} 8');
      expect(metrics).toMatch(/^gradserve_workers 2$/m);
      // Node's own, one series a process: a sum of two heaps or event-loop delays is neither's
      for (const p of ['0', '1']) expect(metrics).toMatch(new RegExp(`^nodejs_heap_size_used_bytes\\{process="${p}"\\} \\d`, 'm'));
      expect(metrics).not.toMatch(/^nodejs_heap_size_used_bytes /m);

      // deleted through one, unknown in both
      expect((await freshRequest(url(`/v1/models/${twoWeightId}`), { method: 'DELETE' })).status).toBe(204);
      for (let i = 0; i < 4; i++) {
        const r = await postJson(url('/v1/gradients'), byRef);
        expect(r.status).toBe(404);
        expect(JSON.parse(r.body).code).toBe('MODEL_NOT_FOUND');
      }
      expect((await freshRequest(url(`/v1/models/${twoWeightId}`), { method: 'DELETE' })).status).toBe(404);

      // registered again through one: read through both, the other asking the primary for it
      expect((await postJson(url('/v1/models'), twoWeightModel)).status).toBe(201);
      for (let i = 0; i < 2; i++) {
        const r = await freshRequest(url(`/v1/models/${twoWeightId}`));
        expect(r.status, r.body).toBe(200);
        expect(JSON.parse(r.body).spec).toEqual(JSON.parse(JSON.stringify(twoWeightModel)));
      }

      // a process killed outright: the other keeps answering, a new one takes its place and finds the
      // models registered before it started
      const [victim] = pids;
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => /a service process ended; starting another/.test(server.output()), 15_000, 'the primary to see it');
      for (let i = 0; i < 4; i++) expect((await postJson(url('/v1/gradients'), twoWeight)).status).toBe(200);
      await waitFor(() => listening(server) === 3, 15_000, 'the new process listening');
      const before = pidsServing(server.output(), '/v1/gradients');
      for (let i = 0; i < 8; i++) expect((await postJson(url('/v1/gradients'), byRef)).status).toBe(200);
      const fresh = () => [...pidsServing(server.output(), '/v1/gradients')].filter((p) => !before.has(p));
      await waitFor(() => fresh().length === 1, 2_000, 'the new process answering');
      const after = pidsServing(server.output(), '/v1/gradients');

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      for (const pid of after) await waitFor(() => !alive(pid), 5_000, `process ${pid} to end`);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it.skipIf(os.availableParallelism() < 2)(
    'sizes OpenBLAS\'s threads over both processes: a lone request uses both cores, and one while the other process computes',
    { timeout: 60_000 },
    async () => {
      const server = await startServer({ PROCESSES: '2', WORKERS: '2', ACCESS_LOG: 'on' });
      const url = (p: string) => `${server.base}${p}`;
      const agents: Agent[] = [];
      const connection = () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        return agent;
      };
      const logged = (id: string) => {
        const line = server.output().split('\n').find((l) => l.includes(`"reqId":"${id}"`) && l.includes('"responseTime"'));
        return line === undefined ? undefined : (JSON.parse(line) as { pid: number }).pid;
      };
      let n = 0;
      /** the pid of the process that answered on `agent`'s connection (its log line names the request id) */
      const pidOf = async (agent: Agent) => {
        const id = `which-${++n}`;
        expect((await freshRequest(url('/readyz'), { agent, headers: { 'x-request-id': id } })).status).toBe(200);
        let pid: number | undefined;
        await waitFor(() => (pid = logged(id)) !== undefined, 2_000, `the log line of ${id}`);
        return pid!;
      };
      const parts = async () => secondCorePartsIn((await freshRequest(url('/metrics'))).body);
      const conv = convBody(2, 8);
      try {
        await waitFor(() => listening(server) === 2, 15_000, 'both processes listening');
        // two kept-alive connections, one to each process
        const a = connection();
        const pidA = await pidOf(a);
        let b = connection();
        for (let i = 0; i < 6 && (await pidOf(b)) === pidA; i++) b = connection();
        expect(await pidOf(b)).not.toBe(pidA);

        // alone, b's process (one worker of the two) gives a convolution a second core; its first one
        // starts the worker's helper thread, later ones split
        expect((await postJson(url('/v1/forward'), conv, { agent: b })).status).toBe(200);
        let split = 0;
        for (let i = 0; i < 10 && split === 0; i++) {
          await new Promise((r) => setTimeout(r, 300));
          expect((await postJson(url('/v1/forward'), conv, { agent: b })).status).toBe(200);
          split = await parts();
        }
        expect(split).toBeGreaterThan(0);

        // while a's process computes (30,000 steps: seconds of training), b's knows it and keeps to one core
        let trained = false;
        const training = postJson(url('/v1/train'), trainBody(30_000), { agent: a }).finally(() => (trained = true));
        await new Promise((r) => setTimeout(r, 500));
        for (let i = 0; i < 3; i++) expect((await postJson(url('/v1/forward'), conv, { agent: b })).status).toBe(200);
        expect(trained, 'the training was still running').toBe(false);
        expect(await parts()).toBe(split);
        expect((await training).status).toBe(200);
      } finally {
        for (const agent of agents) agent.destroy();
        server.child.kill('SIGKILL');
      }
    },
  );

  it('counts RATE_LIMIT for a client over both processes', { timeout: 30_000 }, async () => {
    const server = await startServer({ PROCESSES: '2', WORKERS: '2', RATE_LIMIT: '4', ACCESS_LOG: 'on' });
    try {
      await waitFor(() => listening(server) === 2, 15_000, 'both processes listening');
      // fresh connections, handed to the processes in turn: two requests reach each
      for (let i = 0; i < 4; i++) {
        const r = await postJson(`${server.base}/v1/gradients`, twoWeight);
        expect(r.status, r.body).toBe(200);
        expect(r.headers['x-ratelimit-remaining']).toBe(String(3 - i));
      }
      const over = await postJson(`${server.base}/v1/gradients`, twoWeight);
      expect(over.status).toBe(429);
      expect(JSON.parse(over.body).code).toBe('RATE_LIMITED');
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      await waitFor(() => pidsServing(server.output(), '/v1/gradients').size === 2, 2_000, 'both processes answering');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('a process that cannot start stops the service with its exit code', { timeout: 30_000 }, async () => {
    await expect(startServer({ PROCESSES: '2', WORKERS: '2', BLAS: '/nonexistent/libopenblas.so' })).rejects.toThrow(/exited \(1\)/);
  });
});
