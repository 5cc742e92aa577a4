import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoWeight } from '../src/routes/shared/examples.js';
import { startServer, type ServerProcess } from './reliability/server-process.js';

// The access log of the real process (LOG_LEVEL info): one JSON line per request, written when it is
// answered, joined to the caller's X-Request-Id, with no credentials in it.

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ WORKERS: '1', API_KEYS: 'secret-key-1' });
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

/** The log lines of one request, once its access line is out (written after the answer is sent). */
async function linesFor(requestId: string): Promise<Record<string, unknown>[]> {
  const lines = () =>
    server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.reqId === requestId);
  // the pipe from the server to this process is read asynchronously
  for (let i = 0; i < 100 && !lines().some((l) => l.msg === 'request completed'); i++) await new Promise((r) => setTimeout(r, 20));
  return lines();
}

/** The two-weight request with bearer `key` and request id `id`. */
const postTwoWeight = (key: string, id: string) =>
  fetch(`${server.base}/v1/gradients`, {
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
});
