import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectionOptions } from '../../src/connections.js';
import { twoWeight } from '../routes/helpers.js';
import { percentile } from './helpers.js';
import { postJson, startServer, type ServerProcess } from './server-process.js';

// Slow and idle clients against the real server process: hundreds of connections trickling their
// headers or bodies a byte a second and a thousand idle keep-alive connections leave other clients
// served; the slow ones get their 408 and are closed when their timeouts say. The timeouts are
// shortened so the test is short; the defaults differ only in length.

const HEADERS_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 5000;
/** Node checks the timeouts every HEADERS_TIMEOUT_MS / 10 here (connections.ts); a loaded host adds its delay */
const CLOSE_SLACK_MS = 1500;

interface Slow {
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  answer: string;
}

/** A connection that sends `head` and then `trickle`, one byte a second, until it is closed. */
function trickling(port: number, head: string, trickle: string): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const slow: Slow = { socket, openedAt: 0, answer: '' };
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (slow.answer += d));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearInterval(timer);
      slow.closedAt = performance.now();
    });
    socket.once('connect', () => {
      slow.openedAt = performance.now();
      socket.write(head);
      timer = setInterval(() => socket.writable && socket.write(trickle[i++ % trickle.length]!), 1000);
      resolve(slow);
    });
    socket.once('error', reject);
  });
}

/** A keep-alive connection that made one request and now sits idle. */
function idle(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed by the server')));
    socket.once('connect', () => socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'));
    socket.once('data', (d: string) => (d.startsWith('HTTP/1.1 200') ? resolve(socket) : reject(new Error(d))));
  });
}

/** Latencies of the two-weight chain's gradients, one request at a time on one keep-alive connection, for `ms`. */
async function latencies(server: ServerProcess, ms: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify(twoWeight);
  const out: number[] = [];
  const end = performance.now() + ms;
  try {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.base}/v1/gradients`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
      out.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

async function inBatches<T>(n: number, make: () => Promise<T>, batch = 100): Promise<T[]> {
  const all: T[] = [];
  for (let i = 0; i < n; i += batch) all.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, make))));
  return all;
}

describe('slow and idle clients', () => {
  it('takes its timeouts and cap from the environment, with safe defaults, and refuses a request timeout under the headers timeout', () => {
    const d = loadConfig({});
    expect([d.headersTimeoutMs, d.requestTimeoutMs, d.keepAliveTimeoutMs, d.maxConnections, d.maxRequestsPerSocket]).toEqual([10_000, 60_000, 72_000, 4096, 0]);
    expect(connectionOptions(d).http).toEqual({ headersTimeout: 10_000, requestTimeout: 60_000, connectionsCheckingInterval: 1000 });
    expect(connectionOptions(loadConfig({ HEADERS_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '2000' })).http.connectionsCheckingInterval).toBe(200);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '4000' })).toThrow(/REQUEST_TIMEOUT_MS="4000": must be at least HEADERS_TIMEOUT_MS \(5000\)/);
    expect(() => loadConfig({ MAX_CONNECTIONS: '0' })).toThrow(/MAX_CONNECTIONS="0"/);
  });

  it('300 connections trickling a byte a second and 1,000 idle ones: others keep their latency; the slow ones get 408 on time', async () => {
    const server = await startServer({
      WORKERS: '1',
      LOG_LEVEL: 'warn',
      HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    });
    const port = Number(new URL(server.base).port);
    const sockets: Socket[] = [];
    try {
      await latencies(server, 1000); // warm-up
      const undisturbed = await latencies(server, 2000);

      const idlers = await inBatches(1000, () => idle(port));
      sockets.push(...idlers);
      // 150 still sending their headers, 150 their body (announced as 1 kB)
      const heads = await inBatches(150, () => trickling(port, 'POST /v1/gradients HTTP/1.1\r\nhost: x\r\n', 'x-slow: 1\r\n'));
      const bodies = await inBatches(150, () =>
        trickling(port, 'POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n', ' '),
      );
      sockets.push(...[...heads, ...bodies].map((s) => s.socket));

      const disturbed = await latencies(server, 2000);
      const p99 = { undisturbed: percentile(undisturbed, 99), disturbed: percentile(disturbed, 99) };
      console.log(`two-weight chain p99: ${p99.undisturbed.toFixed(1)} ms alone, ${p99.disturbed.toFixed(1)} ms beside 1,300 slow and idle connections (${disturbed.length} requests)`);
      expect(heads.concat(bodies).every((s) => s.closedAt === undefined)).toBe(true);
      // the target is 50 ms; on a host loaded by others the undisturbed p99 itself may be near or above it,
      // and a p99 of a few hundred requests moves with a handful of them
      expect(p99.disturbed).toBeLessThan(Math.max(50, 2.5 * p99.undisturbed));

      const deadline = performance.now() + REQUEST_TIMEOUT_MS + 2 * CLOSE_SLACK_MS;
      while (performance.now() < deadline && [...heads, ...bodies].some((s) => s.closedAt === undefined)) await new Promise((r) => setTimeout(r, 50));
      for (const [slow, limit] of [...heads.map((s) => [s, HEADERS_TIMEOUT_MS] as const), ...bodies.map((s) => [s, REQUEST_TIMEOUT_MS] as const)]) {
        expect(slow.closedAt).toBeDefined();
        const after = slow.closedAt! - slow.openedAt;
        expect(after).toBeGreaterThanOrEqual(limit - 50);
        expect(after).toBeLessThan(limit + CLOSE_SLACK_MS);
        expect(slow.answer).toMatch(/^HTTP\/1\.1 408/);
      }
      // the idle keep-alive connections are still open (KEEP_ALIVE_TIMEOUT_MS is 72 s) and still served
      expect(idlers.every((s) => !s.destroyed)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 60_000);

  it('closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT_MS, and new connections past MAX_CONNECTIONS on arrival', async () => {
    const server = await startServer({ WORKERS: '1', LOG_LEVEL: 'warn', KEEP_ALIVE_TIMEOUT_MS: '500', MAX_CONNECTIONS: '20' });
    const port = Number(new URL(server.base).port);
    const sockets: Socket[] = [];
    try {
      const first = await idle(port);
      const t0 = performance.now();
      await new Promise((r) => first.once('close', r));
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
      expect(performance.now() - t0).toBeLessThan(500 + CLOSE_SLACK_MS);

      sockets.push(...(await inBatches(20, () => idle(port))));
      // the 21st is accepted by the kernel and closed by the server before it answers
      await expect(idle(port)).rejects.toThrow();
      for (const s of sockets.splice(0, 5)) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      sockets.push(await idle(port));
    } finally {
      for (const s of sockets) s.destroy();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 30_000);

  it('with PROCESSES=2, each process closes the connections past its MAX_CONNECTIONS on arrival, and the others are served', async () => {
    // node:cluster would otherwise pass a refused connection between the processes for as long as it stays open
    const server = await startServer({ WORKERS: '2', PROCESSES: '2', LOG_LEVEL: 'warn', MAX_CONNECTIONS: '5' });
    const port = Number(new URL(server.base).port);
    const sockets: Socket[] = [];
    try {
      // how the primary spreads them is its own: at most 10 are kept, and every other one is closed at once
      const t0 = performance.now();
      const tries = await inBatches(16, () => idle(port).then((s) => (sockets.push(s), 'served'), () => 'closed'));
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(tries.filter((t) => t === 'served').length).toBeLessThanOrEqual(10);
      expect(tries.filter((t) => t === 'closed').length).toBeGreaterThanOrEqual(6);
      for (const s of sockets.splice(0)) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await postJson(`${server.base}/v1/gradients`, twoWeight)).status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 30_000);
});
