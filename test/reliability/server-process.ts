import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';

// The real server process (node dist/src/server.js, built by `npm test` / `npm run soak`) on
// 127.0.0.1 with an ephemeral port, read from its "listening" log line.

export const SERVER_JS = path.resolve(import.meta.dirname, '../../dist/src/server.js');

export interface ServerProcess {
  child: ChildProcess;
  base: string;
  /** resolves with the exit code (or the signal's name) */
  exited: Promise<number | string>;
  /** everything written to stdout and stderr so far */
  output: () => string;
}

export async function startServer(env: Record<string, string>, startTimeoutMs = 20_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_JS], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), startTimeoutMs);
    const look = () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', look);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${out}`)));
  });
  return { child, base, exited, output: () => out };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (no keep-alive pool), so "connection refused" is observable. */
export function freshRequest(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', agent: false, headers: { connection: 'close', ...init.headers } }, (res) => {
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

export const postJson = (url: string, body: unknown) =>
  freshRequest(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
