import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVER_JS } from './reliability/server-process.js';

// src/malloc.ts: with the allocator keeping what it freed, a large buffer allocated after the last one
// was collected reuses its pages instead of faulting fresh ones in. Counted in page faults
// (/proc/self/stat's minflt), not time; each case in a process of its own, as mallopt is process-wide.
// The first 20 MiB buffer of a fresh process is its own mapping, which glibc unmaps when it is freed
// (raising its mmap threshold to that size), so without keepFreedMemory the second one is carved from
// the heap, grown afresh; with it both come from the heap, which keeps the first one's pages.

const MALLOC_JS = pathToFileURL(path.join(path.dirname(SERVER_JS), 'malloc.js')).href;
/** 20 MiB of float32, in 4 KiB pages */
const ELEMENTS = 5 << 20;
const PAGES = (4 * ELEMENTS) / 4096;

/** page faults while filling a second 20 MiB buffer, the first one filled and collected before it */
function faultsOfSecondBuffer(keep: boolean): number {
  const script = `
    const { readFileSync } = await import('node:fs');
    const { setTimeout: sleep } = await import('node:timers/promises');
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
    if (${keep} && !(await import(${JSON.stringify(MALLOC_JS)})).keepFreedMemory()) throw new Error('mallopt did not take');
    new Float32Array(${ELEMENTS}).fill(1);
    // collected, and its backing store freed (V8 may free it off the thread): twice, with a pause
    for (let i = 0; i < 2; i++) { gc(); await sleep(20); }
    const f0 = minflt();
    new Float32Array(${ELEMENTS}).fill(1);
    console.log(minflt() - f0);`;
  return Number(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

describe.runIf(process.platform === 'linux')('keepFreedMemory', () => {
  it('reuses the pages of a freed large buffer: a few faults where a fresh one takes thousands', () => {
    const kept = faultsOfSecondBuffer(true);
    const fresh = faultsOfSecondBuffer(false);
    expect(kept).toBeLessThan(64);
    // without it glibc gives the first buffer's pages back and faults the second one's in
    expect(fresh).toBeGreaterThan(PAGES / 2);
  });
});
