import type { FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

// Requests that Node's HTTP parser refuses, or that do not arrive in time, never reach a route: their
// answers come from the server's client-error handler (connections.ts clientError), problems like
// every other error, and the connection is closed.

let app: FastifyInstance;
let port: number;
beforeAll(async () => {
  app = await buildApp(testConfig({ headersTimeoutMs: 300, requestTimeoutMs: 300 }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app?.close();
});

/** Sends `bytes` on a connection of its own and reads until the server closes it. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', () => {}); // a reset after the answer
    socket.once('close', () => resolve(answer));
    socket.once('connect', () => socket.write(bytes));
    setTimeout(() => reject(new Error(`no close; got ${JSON.stringify(answer)}`)), 5_000).unref();
  });
}

function problemOf(answer: string): { status: number; body: Record<string, unknown> } {
  const [head, body] = answer.split('\r\n\r\n', 2) as [string, string];
  expect(head).toMatch(/^content-type: application\/problem\+json$/im);
  expect(head).toMatch(/^connection: close$/im);
  expect(Number(/^content-length: (\d+)$/im.exec(head)?.[1])).toBe(Buffer.byteLength(body));
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body: JSON.parse(body) as Record<string, unknown> };
}

describe('requests refused before any route', () => {
  it('headers that stop arriving: 408 REQUEST_TIMEOUT', async () => {
    const p = problemOf(await exchange('POST /v1/gradients HTTP/1.1\r\nhost: x\r\n'));
    expect(p.status).toBe(408);
    expect(p.body).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT', type: 'urn:gradserve:problem:request-timeout' });
    expect(p.body.detail).toMatch(/did not arrive within the server's time limits/);
  });

  it('a body that stops arriving: 408 REQUEST_TIMEOUT', async () => {
    const p = problemOf(await exchange('POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"mo'));
    expect(p.status).toBe(408);
    expect(p.body.code).toBe('REQUEST_TIMEOUT');
  });

  it('a Content-Length that is not a number: 400 MALFORMED_HTTP, with the parser\'s reason', async () => {
    const p = problemOf(await exchange('POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n'));
    expect(p.status).toBe(400);
    expect(p.body.code).toBe('MALFORMED_HTTP');
    expect(p.body.detail).toMatch(/^the request is not valid HTTP\/1\.1 \(.*[Cc]ontent-[Ll]ength.*\)/);
  });

  it('headers over the size limit: 431 HEADERS_TOO_LARGE', async () => {
    const p = problemOf(await exchange(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(p.status).toBe(431);
    expect(p.body.code).toBe('HEADERS_TOO_LARGE');
  });

  it('a body over the limit that stops arriving while it is read to its end: 408 REQUEST_TIMEOUT, one answer', async () => {
    // declared over the 16 MiB limit but under the 64 MiB read to the end before the 413
    const answer = await exchange(`POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${20 * 2 ** 20}\r\n\r\n{"mo`);
    expect(problemOf(answer).body.code).toBe('REQUEST_TIMEOUT');
    expect(answer.match(/HTTP\/1\.1/g)).toHaveLength(1);
  });

  it('a path segment over the router\'s length limit: 400 INVALID_REQUEST, a problem', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/models/sha256:${'a'.repeat(250)}` });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST', detail: expect.stringMatching(/^a segment of the path is over 100 characters: \/v1\/models\/sha256:a+$/) });
  });

  it('a DELETE labelled JSON with no body is taken as having none', async () => {
    const res = await app.inject({ method: 'DELETE', url: `/v1/models/sha256:${'0'.repeat(64)}`, headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('MODEL_NOT_FOUND');
  });

  it('are counted in http_requests_total, as route "unmatched" (method "unparsed" where the parser refused it)', async () => {
    const counted = async () => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const count = (labels: string) => Number(new RegExp(`^http_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return [count('route="unmatched",method="unparsed",status="431"'), count('route="unmatched",method="unparsed",status="400"'), count('route="unmatched",method="GET",status="400"')];
    };
    const before = await counted();
    await exchange(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await exchange('POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n');
    await app.inject({ method: 'GET', url: `/v1/models/sha256:${'a'.repeat(250)}` });
    expect((await counted()).map((n, k) => n - before[k]!)).toEqual([1, 1, 1]);
  });

  it('still answers well-formed requests', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe('a body over the limit, refused before it has arrived', () => {
  let small: FastifyInstance;
  let at: number;
  beforeAll(async () => {
    small = await buildApp(testConfig({ bodyLimitBytes: 64 * 1024 }));
    await small.listen({ host: '127.0.0.1', port: 0 });
    at = (small.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await small?.close();
  });

  /** Sends the whole of a 4 MB body first, then reads, as fetch or Python's urllib do; a reset is an error. */
  function sendAllThenRead(contentType: string, headers = ''): Promise<string> {
    const body = Buffer.alloc(4 * 2 ** 20, 0x20);
    return new Promise((resolve, reject) => {
      const socket = connect(at, '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (answer += d));
      socket.once('error', (err) => reject(new Error(`${(err as NodeJS.ErrnoException).code} after ${JSON.stringify(answer.slice(0, 40))}`)));
      socket.once('close', () => resolve(answer));
      socket.once('connect', () => {
        socket.write(`POST /v1/gradients HTTP/1.1\r\nhost: x\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\n${headers}\r\n`);
        socket.end(body);
      });
    });
  }

  for (const type of ['application/json', 'application/vnd.gradserve.safetensors']) {
    it(`${type}: the client hears 413 BODY_TOO_LARGE after sending it all, not a reset`, async () => {
      const answer = await sendAllThenRead(type, 'connection: close\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
      expect(JSON.parse(answer.split('\r\n\r\n', 2)[1]!).code).toBe('BODY_TOO_LARGE');
    });
  }
});
