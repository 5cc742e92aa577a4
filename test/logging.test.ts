import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoWeight } from '../src/routes/shared/examples.js';
import { writeSafetensors } from '../src/wire/safetensors.js';
import { SERVER_JS, startServer, type ServerProcess } from './reliability/server-process.js';

// The access log of the real process (LOG_LEVEL info, ACCESS_LOG on): one JSON line per request,
// written when it is answered, joined to the caller's X-Request-Id, with no credentials in it. By
// default (ACCESS_LOG off) only the requests refused or failed are logged.

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ WORKERS: '1', API_KEYS: 'secret-key-1', ACCESS_LOG: 'on' });
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

/** The JSON log lines a server process has written so far. */
const logLines = (s: ServerProcess): Record<string, unknown>[] =>
  s
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The log lines of one request, once its access line is out (written after the answer is sent). */
async function linesFor(requestId: string): Promise<Record<string, unknown>[]> {
  const lines = () => logLines(server).filter((l) => l.reqId === requestId);
  // the pipe from the server to this process is read asynchronously
  for (let i = 0; i < 100 && !lines().some((l) => l.msg === 'request completed'); i++) await new Promise((r) => setTimeout(r, 20));
  return lines();
}

/** The two-weight request with bearer `key` and request id `id`, to `base` (the suite's server). */
const postTwoWeight = (key: string, id: string, base = server.base) =>
  fetch(`${base}/v1/gradients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': id },
    body: JSON.stringify(twoWeight),
  });

describe('request logging', () => {
  it('writes one line per answered request with method, url, status, time and request id', async () => {
    const res = await postTwoWeight('secret-key-1', 'log-test-200');
    expect(res.status).toBe(200);
    const lines = await linesFor('log-test-200');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'request completed', req: { method: 'POST', url: '/v1/gradients' }, res: { statusCode: 200 } });
    expect(lines[0]!.responseTime).toBeGreaterThan(0);
    expect(server.output()).not.toContain('secret-key-1');
  });

  it('a rejected request gets its access line too, after the line saying why', async () => {
    const res = await postTwoWeight('wrong-key', 'log-test-401');
    expect(res.status).toBe(401);
    const lines = await linesFor('log-test-401');
    expect(lines.map((l) => l.msg)).toEqual(['request rejected', 'request completed']);
    expect(lines[1]).toMatchObject({ res: { statusCode: 401 } });
    expect(server.output()).not.toContain('wrong-key');
  });

  it.each([
    ['application/json', Buffer.from(JSON.stringify(twoWeight))],
    ['application/vnd.gradserve.safetensors', writeSafetensors([['inputs', { shape: [64], data: new Float32Array(64) }]], { json: '{}' })],
  ])('a client that hangs up while its %s body arrives is logged as CLIENT_CLOSED, not as an internal error', async (type, body) => {
    const id = `log-test-hangup-${type.length}`;
    const { port } = new URL(server.base);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    // half the body of the declared length, then gone
    socket.write(
      `POST /v1/gradients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-key-1\r\nX-Request-Id: ${id}\r\n` +
        `Content-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, body.length >> 1));
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    let lines: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && !lines.some((l) => l.msg === 'request rejected' || l.msg === 'internal error'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      lines = logLines(server).filter((l) => l.reqId === id);
    }
    expect(lines.filter((l) => l.msg !== 'request completed')).toEqual([expect.objectContaining({ level: 30, msg: 'request rejected', code: 'CLIENT_CLOSED' })]);
  });

  it('the OpenAPI document\'s examples, which the service answers itself, are neither logged nor counted', async () => {
    const counted = async () => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('http_requests_total') && l.includes('route="/v1/'));
    };
    const before = await counted();
    const doc = (await (await fetch(`${server.base}/openapi.json`)).json()) as { paths: Record<string, any> };
    // the examples were answered: the document holds their answers
    expect(doc.paths['/v1/gradients'].post.responses['200'].content['application/json'].examples.twoWeight.value.loss).toBe(6.25);
    expect(await counted()).toEqual(before);
    await postTwoWeight('secret-key-1', 'log-test-after-doc');
    await linesFor('log-test-after-doc');
    expect(server.output()).not.toContain('"reqId":"example"');
  });
});

describe('the default log (ACCESS_LOG off)', () => {
  it('has no line for an answered request, and the reason for a refused one', async () => {
    const s = await startServer({ WORKERS: '1', API_KEYS: 'secret-key-1' });
    try {
      expect((await postTwoWeight('secret-key-1', 'quiet-200', s.base)).status).toBe(200);
      expect((await postTwoWeight('wrong-key', 'quiet-401', s.base)).status).toBe(401);
      const lines = () => logLines(s);
      for (let i = 0; i < 100 && !lines().some((l) => l.reqId === 'quiet-401'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(lines().filter((l) => l.reqId === 'quiet-401')).toEqual([expect.objectContaining({ msg: 'request rejected', code: 'UNAUTHORIZED' })]);
      // the 200 came first and its line would be out by now: lines leave in order
      expect(lines().filter((l) => l.reqId === 'quiet-200')).toEqual([]);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});

describe('the log at exit', () => {
  it('holds every access line and the shutdown line once the process has exited on SIGTERM', async () => {
    // stdout is written asynchronously (src/app.ts): what is still queued at exit must be flushed
    const s = await startServer({ WORKERS: '1', ACCESS_LOG: 'on' });
    const closed = new Promise((r) => s.child.once('close', r));
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `exit-log-${i}`);
      const answers = await Promise.all(
        ids.map((id) =>
          fetch(`${s.base}/v1/gradients`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify(twoWeight) }),
        ),
      );
      for (const r of answers) expect(r.status).toBe(200);
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      await closed;
      const lines = logLines(s);
      const logged = new Set(lines.filter((l) => l.msg === 'request completed').map((l) => l.reqId));
      expect(ids.filter((id) => !logged.has(id))).toEqual([]);
      expect(lines.some((l) => l.msg === 'closing: draining in-flight requests')).toBe(true);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('holds the fatal line of a process that cannot listen, written just before process.exit', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const { port } = taken.address() as AddressInfo;
      const child = spawn(process.execPath, [SERVER_JS], { env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), WORKERS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise((r) => child.once('close', r));
      expect(code).toBe(1);
      expect(out).toMatch(/"level":60.*"msg":"could not start"/);
    } finally {
      taken.close();
    }
  });
});
