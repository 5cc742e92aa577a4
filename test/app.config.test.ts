import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { workersOf } from '../src/cluster.js';
import { ConfigError, loadConfig } from '../src/config.js';

const SERVER = path.resolve(import.meta.dirname, '../dist/src/server.js');

describe('loadConfig', () => {
  it('has a safe default for everything', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.workers).toBeGreaterThanOrEqual(1);
    expect(c.workerNice).toBe(0);
    expect(c.apiKeys).toEqual([]);
    expect(c.rateLimit).toBeUndefined();
    expect(c.corsOrigins).toEqual([]);
    expect(c.blas).toBe('auto');
    expect(c.accessLog).toBe(false);
    expect(c.bodyLimitBytes).toBe(16 * 1024 * 1024);
    expect(c.inPlaceFlops).toBe(2 ** 18);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '8080', HOST: '127.0.0.1', WORKERS: '3', QUEUE_LIMIT: '5', BODY_LIMIT_MB: '2.5', MAX_ELEMENTS: '1000',
      MAX_NODES: '20', TIMEOUT_MS: '1500', API_KEYS: 'a, b,,c', RATE_LIMIT: '60', CORS_ORIGINS: 'https://x.example',
      LOG_LEVEL: 'warn', ACCESS_LOG: 'on', BLAS: 'off', WORKER_NICE: '3', IN_PLACE_FLOPS: '0',
    });
    expect(c).toMatchObject({
      port: 8080, host: '127.0.0.1', workers: 3, queueLimit: 5, bodyLimitBytes: 2.5 * 1024 * 1024, maxElements: 1000,
      maxNodes: 20, timeoutMs: 1500, apiKeys: ['a', 'b', 'c'], rateLimit: 60, corsOrigins: ['https://x.example'],
      logLevel: 'warn', accessLog: true, blas: 'off', workerNice: 3, inPlaceFlops: 0,
    });
  });

  it('PROCESSES: two by default, one where WORKERS is 1', () => {
    expect(loadConfig({ WORKERS: '4' }).processes).toBe(2);
    expect(loadConfig({ WORKERS: '2' }).processes).toBe(2);
    expect(loadConfig({ WORKERS: '1' }).processes).toBe(1);
    expect(loadConfig({ WORKERS: '4', PROCESSES: '1' }).processes).toBe(1);
  });

  it('PROCESSES: at most WORKERS, and the WORKERS shared out', () => {
    expect(loadConfig({ PROCESSES: '2', WORKERS: '5' })).toMatchObject({ processes: 2, workers: 5 });
    const c = loadConfig({ PROCESSES: '2', WORKERS: '5' });
    expect([workersOf(c, 0), workersOf(c, 1)]).toEqual([3, 2]);
    expect(() => loadConfig({ PROCESSES: '3', WORKERS: '2' })).toThrow(/PROCESSES="3": must be at most WORKERS \(2\)/);
    // the primary counts RATE_LIMIT for every process (cluster.ts)
    expect(loadConfig({ PROCESSES: '2', WORKERS: '2', RATE_LIMIT: '60' })).toMatchObject({ processes: 2, rateLimit: 60 });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', RATE_LIMIT: '' })).toMatchObject({ port: 3000, rateLimit: undefined });
  });

  it('rejects bad values, naming each variable and value', () => {
    const bad = () => loadConfig({ PORT: 'eighty', WORKERS: '0', LOG_LEVEL: 'loud', TIMEOUT_MS: '1.5', WORKER_NICE: '20', IN_PLACE_FLOPS: '-1' });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (err) {
      const m = (err as Error).message;
      for (const v of ['PORT="eighty"', 'WORKERS="0"', 'LOG_LEVEL="loud"', 'TIMEOUT_MS="1.5"', 'WORKER_NICE="20"', 'IN_PLACE_FLOPS="-1"']) expect(m).toContain(v);
      // WORKERS="0" is the fault, not PROCESSES
      expect(m).not.toContain('PROCESSES');
    }
  });

  it('rejects what Number() would read into something else, and lists that name nothing', () => {
    for (const [name, value, why] of [
      ['WORKERS', '0x2', 'expected an integer in decimal digits'],
      ['PORT', ' ', 'expected an integer in decimal digits'],
      ['BODY_LIMIT_MB', '0.0000001', 'is under one byte'],
      // every model evicted as soon as it is kept, or refused: each reference a 404
      ['MODEL_CACHE_MB', '0.001', 'must be at least 1 (MiB)'],
      // authentication left off by a typo
      ['API_KEYS', ' , ', 'names nothing: leave the variable unset instead'],
    ]) {
      expect(() => loadConfig({ [name!]: value }), name).toThrow(`${name}=${JSON.stringify(value)}: ${why}`);
    }
    expect(loadConfig({ WORKERS: ' 2 ' }).workers).toBe(2);
    expect(loadConfig({ MODEL_CACHE_MB: '1' }).modelCacheBytes).toBe(1024 * 1024);
  });
});

function run(env: Record<string, string>) {
  return spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('server.ts', () => {
  it('stops the start with a clear message and exit code 1 on a bad variable', async () => {
    const child = run({ PORT: 'abc' });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(stderr).toContain('invalid environment');
    expect(stderr).toContain('PORT="abc"');
  });

  it('listens, serves, and exits cleanly on SIGTERM', async () => {
    const child = run({ PORT: '0', HOST: '127.0.0.1', WORKERS: '1', LOG_LEVEL: 'info' });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (c) => reject(new Error(`exited ${c} before listening: ${out}`)));
      });
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      const docs = await fetch(`${url}/docs/`);
      expect(docs.status).toBe(200);
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.on('exit', r));
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
