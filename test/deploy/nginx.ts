import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './processes.js';

// Runs docker/nginx.conf with Debian's nginx on this machine: the container names and paths of the
// file are rewritten for local processes, and nothing else, so the balancing, retry, timeout and
// body-size rules under test are the shipped ones.

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];

export function findNginx(): string | undefined {
  for (const path of CANDIDATES) if (existsSync(path)) return path;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

export interface RenderOptions {
  /** port nginx listens on, on 127.0.0.1 */
  port: number;
  /** host:port of each replica */
  upstreams: string[];
  /** directory for the access log and nginx's temp files */
  dir: string;
}

function replaceOnce(text: string, pattern: RegExp, replace: (m: RegExpExecArray) => string): string {
  const all = [...text.matchAll(new RegExp(pattern.source, pattern.flags + 'g'))];
  if (all.length !== 1) {
    throw new Error(`docker/nginx.conf: expected exactly one line matching ${pattern}, found ${all.length}`);
  }
  const m = pattern.exec(text)!;
  return text.slice(0, m.index) + replace(m) + text.slice(m.index + m[0].length);
}

/** docker/nginx.conf for local replicas; throws if the file no longer has the expected lines. */
export function renderNginxConf(conf: string, o: RenderOptions): string {
  let out = conf;
  // Docker's DNS is not here, and Debian's nginx predates `server ... resolve`.
  out = replaceOnce(out, /^[ \t]*resolver [^;]*;[ \t]*\n/m, () => '');
  // one server line in each upstream block (least_conn, and by model)
  const servers = /^([ \t]*)server\s+gradserve:3000\s+resolve\s+([^;]*);/gm;
  if ([...out.matchAll(servers)].length !== 2) throw new Error(`docker/nginx.conf: expected two lines matching ${servers}`);
  out = out.replace(servers, (_all, indent: string, params: string) => o.upstreams.map((u) => `${indent}server ${u} ${params};`).join('\n'));
  out = replaceOnce(out, /^([ \t]*)listen\s+8080\s*;/m, (m) => `${m[1]}listen 127.0.0.1:${o.port};`);
  out = replaceOnce(out, /^([ \t]*)access_log\s+\S+\s+gradserve\s*;/m, (m) => `${m[1]}access_log ${join(o.dir, 'access.log')} gradserve;`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `    ${k}_temp_path ${join(o.dir, k)};`)
    .join('\n');
  out = replaceOnce(out, /^http \{\n/m, (m) => `${m[0]}${temp}\n`);
  return out;
}

/** One line of the gradserve access log format. */
export interface AccessLogEntry {
  method: string;
  uri: string;
  status: number;
  upstream: string;
  upstream_status: string;
}

export function readAccessLog(dir: string): AccessLogEntry[] {
  const path = join(dir, 'access.log');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as AccessLogEntry);
}

export interface RunningNginx {
  proc: ChildProcess;
  url: string;
  dir: string;
  stderr: () => string;
}

/** Writes the rendered config into `dir` and starts nginx in the foreground; resolves once it answers. */
export async function startNginx(bin: string, conf: string, o: RenderOptions): Promise<RunningNginx> {
  const confPath = join(o.dir, 'nginx.conf');
  writeFileSync(confPath, renderNginxConf(conf, o));
  const check = spawnSync(bin, ['-t', '-q', '-p', o.dir, '-e', join(o.dir, 'error.log'), '-c', confPath, '-g', `pid ${join(o.dir, 'nginx.pid')};`], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t rejected the rendered docker/nginx.conf:\n${check.stderr}`);
  const proc = spawn(bin, ['-p', o.dir, '-e', join(o.dir, 'error.log'), '-c', confPath, '-g', `daemon off; pid ${join(o.dir, 'nginx.pid')};`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${o.port}`;
  const stderr = () => err + (existsSync(join(o.dir, 'error.log')) ? readFileSync(join(o.dir, 'error.log'), 'utf8') : '');
  // Any HTTP answer means nginx is listening; the replicas' readiness is checked separately.
  await waitFor(`nginx on ${url}`, proc, async () => {
    await fetch(`${url}/healthz`);
    return true;
  }, stderr);
  return { proc, url, dir: o.dir, stderr };
}
