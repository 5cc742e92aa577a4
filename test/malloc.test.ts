import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVER_JS } from './reliability/server-process.js';

// src/malloc.ts: with the allocator keeping what it freed, a 4 MB buffer allocated again after the
// last one was collected reuses its pages instead of faulting fresh ones in. Counted in page faults
// (/proc/self/stat's minflt), not time; each case in a process of its own, as mallopt is process-wide.

const MALLOC_JS = pathToFileURL(path.join(path.dirname(SERVER_JS), 'malloc.js')).href;

/** page faults per 4 MB buffer filled, over 40 buffers each collected before the next */
function faultsPerBuffer(keep: boolean): number {
  const script = `
    const { readFileSync } = await import('node:fs');
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
    if (${keep} && !(await import(${JSON.stringify(MALLOC_JS)})).keepFreedMemory()) throw new Error('mallopt did not take');
    for (let i = 0; i < 5; i++) { new Float32Array(1 << 20).fill(1); gc(); }
    const f0 = minflt();
    for (let i = 0; i < 40; i++) { new Float32Array(1 << 20).fill(1); gc(); }
    console.log((minflt() - f0) / 40);`;
  return Number(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

describe.runIf(process.platform === 'linux')('keepFreedMemory', () => {
  it('reuses the pages of a freed large buffer: a few faults where a fresh one takes hundreds', () => {
    const kept = faultsPerBuffer(true);
    const fresh = faultsPerBuffer(false);
    expect(kept).toBeLessThan(64);
    // without it glibc hands the 1,024 pages back and faults them in again, at least in part
    expect(fresh).toBeGreaterThan(4 * kept + 64);
  });
});
