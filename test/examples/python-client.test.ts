import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

// examples/python/gradserve_client.py against a live server, with Debian's python3 (python3-numpy,
// and python3-torch where installed, which the client then checks the gradients against).

const PYTHON = '/usr/bin/python3';
const CLIENT = join(import.meta.dirname, '../../examples/python/gradserve_client.py');
const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
const hasNumpy = probe.status === 0;
const hasTorch = hasNumpy && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const run = promisify(execFile);

let app: FastifyInstance;
let url: string;
beforeAll(async () => {
  if (!hasNumpy) return;
  app = await buildApp(testConfig());
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
});

describe.skipIf(!hasNumpy)(`the Python client (skipped where ${PYTHON} has no numpy: apt-get install python3-numpy)`, () => {
  it(`posts an MLP as safetensors and reads the gradients back${hasTorch ? ', equal to torch\'s' : ' (torch absent: not checked)'}`, async () => {
    const { stdout } = await run(PYTHON, [CLIENT, '--url', url, '--sizes', '64,32,32,10', '--batch', '16'], { timeout: 60_000 });
    expect(stdout).toMatch(/^loss \d+\.\d{6}, computed in/);
    for (const [name, shape] of [['layers.0.weight', '32, 64'], ['layers.0.bias', '32'], ['layers.2.weight', '10, 32'], ['layers.2.bias', '10']]) {
      expect(stdout).toContain(`gradients/${name}: float32 [${shape}], norm `);
    }
    expect(stdout).toMatch(hasTorch ? /torch: loss \d+\.\d{6}, largest gradient difference \S+ of the largest element: OK/ : /torch is not installed/);
  });

  it('sends its API key, and fails with the problem the server answers', async () => {
    const locked = await buildApp(testConfig({ apiKeys: ['k1'] }));
    try {
      const at = await locked.listen({ host: '127.0.0.1', port: 0 });
      const args = [CLIENT, '--url', at, '--sizes', '8,4', '--batch', '2'];
      const { stdout } = await run(PYTHON, [...args, '--api-key', 'k1'], { timeout: 60_000 });
      expect(stdout).toContain('gradients/layers.0.weight: float32 [4, 8]');
      const err = await run(PYTHON, [...args, '--api-key', 'k2'], { timeout: 60_000 }).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr).toMatch(/RuntimeError: 401: \{.*"code":"UNAUTHORIZED"/);
    } finally {
      await locked.close();
    }
  });
});
