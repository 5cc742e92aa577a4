import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request, type Agent } from 'node:http';
import path from 'node:path';
import { freePort } from '../helpers/net.js';

// The real server process (node dist/src/server.js, built by `npm test` / `npm run soak`) on
// 127.0.0.1 with an ephemeral port, read from its "listening" log line.

/** The repository root, from this file's place in test/ or in dist/test/. */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

export const SERVER_JS = path.join(repoRoot(), 'dist', 'src', 'server.js');

/**
 * Node's flags in `npm start` (package.json's start script ends in `node <flags> dist/src/server.js`),
 * which the image's CMD repeats (test/deploy/manifests.test.ts): the tests and the bench start the
 * server with them, as it ships.
 */
export const NODE_FLAGS: readonly string[] = (() => {
  const { scripts } = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { scripts: { start: string } };
  const m = /(?:^|&& )node((?: --\S+)*) dist\/src\/server\.js$/.exec(scripts.start);
  if (m === null) throw new Error(`package.json's start script does not end in "node [flags] dist/src/server.js": ${scripts.start}`);
  return m[1]!.split(' ').filter(Boolean);
})();

export interface ServerProcess {
  child: ChildProcess;
  base: string;
  /** resolves with the exit code (or the signal's name) */
  exited: Promise<number | string>;
  /** everything written to stdout and stderr so far */
  output: () => string;
}


/**
 * Starts the server. With LOG_LEVEL info (the default here) the port is ephemeral and read from the
 * "listening" log line; with a quieter level (no such line) a free port is chosen and /readyz polled.
 */
export async function startServer(env: Record<string, string>, startTimeoutMs = 20_000): Promise<ServerProcess> {
  const level = env.LOG_LEVEL ?? 'info';
  const verbose = level === 'info' || level === 'debug' || level === 'trace';
  const port = verbose ? 0 : await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, SERVER_JS], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', ...env, PORT: String(port), LOG_LEVEL: level },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // the last 256 kB only: a long run must not grow this buffer without bound
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-256 * 1024));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const base = await new Promise<string>((resolve, reject) => {
    let done = false;
    const fail = (e: Error) => {
      done = true;
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}`)), startTimeoutMs);
    void exited.then((code) => fail(new Error(`server exited (${code}) before listening:\n${out}`)));
    const found = (b: string) => {
      done = true;
      clearTimeout(timer);
      resolve(b);
    };
    if (verbose) {
      const look = () => {
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          child.stdout!.off('data', look);
          found(m[1]!);
        }
      };
      child.stdout!.on('data', look);
      return;
    }
    const url = `http://127.0.0.1:${port}`;
    const again = () => !done && setTimeout(poll, 50);
    const poll = () => freshRequest(`${url}/readyz`).then((r) => (r.status === 200 ? found(url) : again()), again);
    poll();
  });
  return { child, base, exited, output: () => out };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request on a fresh connection (no keep-alive pool), so "connection refused" is observable; or,
 * given an `agent`, on its kept-alive connection.
 */
export function freshRequest(
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const agent = init.agent ?? false;
    const req = request(url, { method: init.method ?? 'GET', agent, headers: { ...(agent ? {} : { connection: 'close' }), ...init.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export const postJson = (url: string, body: unknown, init: { agent?: Agent; headers?: Record<string, string> } = {}) =>
  freshRequest(url, { method: 'POST', body: JSON.stringify(body), agent: init.agent, headers: { 'content-type': 'application/json', ...init.headers } });
