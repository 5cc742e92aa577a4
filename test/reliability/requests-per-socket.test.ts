import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { requestsPerSocket } from '../../src/connections.js';
import { twoWeight } from '../routes/helpers.js';

// MAX_REQUESTS_PER_SOCKET (connections.ts requestsPerSocket): the last request a connection may carry
// is answered with `Connection: close`, so keep-alive clients move to a new connection; a request
// pipelined past it fails before any of its work and stays unanswered as the connection closes (not
// Node's bare 503), for the client to send again.

const MAX = 2;
let app: FastifyInstance;
let port: number;
beforeAll(async () => {
  app = await buildApp(testConfig({ maxRequestsPerSocket: MAX }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app?.close();
});

describe('MAX_REQUESTS_PER_SOCKET', () => {
  it('closes a keep-alive connection after its last request; the client carries on over a new one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const seen: { status: number; connection: string | undefined; localPort: number }[] = [];
    for (let i = 0; i < 5; i++) {
      seen.push(
        await new Promise((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
            res.resume();
            res.once('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, localPort: req.socket!.localPort! }));
          });
          req.once('error', reject);
          req.end();
        }),
      );
    }
    agent.destroy();
    expect(seen.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    expect(seen.map((s) => s.connection)).toEqual(['keep-alive', 'close', 'keep-alive', 'close', 'keep-alive']);
    // two requests a connection: three connections
    expect(new Set(seen.map((s) => s.localPort)).size).toBe(3);
  });

  it('answers its last request and closes, computing none of the requests pipelined past it', async () => {
    const body = JSON.stringify(twoWeight);
    const one = `POST /v1/gradients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    let tasks = 0;
    const run = app.pool.run.bind(app.pool);
    app.pool.run = (...args) => {
      tasks++;
      return run(...args);
    };
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(one.repeat(4)));
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (got += d));
      socket.on('error', () => {});
      socket.once('close', () => resolve(got));
      setTimeout(() => reject(new Error(`not closed; got ${JSON.stringify(got)}`)), 5_000).unref();
    });
    const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 200]);
    expect(answer.split('HTTP/1.1 ')[2]).toMatch(/^connection: close$/im);
    expect(tasks).toBe(MAX);
    app.pool.run = run;
  });

  it('fails a request past the limit before its work, naming the setting in its logged problem; the last one closes', () => {
    const hook = requestsPerSocket(MAX);
    const socket = {};
    const replies: { headers: Record<string, string> }[] = [];
    const results: (Error | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = { headers: {} as Record<string, string>, header(k: string, v: string) { this.headers[k] = v; return this; } };
      replies.push(reply);
      hook({ raw: { socket } } as never, reply as never, (err) => results.push(err));
    }
    expect(results.slice(0, 2)).toEqual([undefined, undefined]);
    expect(replies.map((r) => r.headers.connection)).toEqual([undefined, 'close', 'close']);
    expect(results[2]).toMatchObject({ code: 'CONNECTION_SPENT', statusCode: 503 });
    expect(results[2]!.message).toMatch(/carried its 2 requests \(MAX_REQUESTS_PER_SOCKET\) .* on a new connection/);
  });
});
