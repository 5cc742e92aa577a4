import { afterEach, describe, expect, it } from 'vitest';
import { applyThreadRule, asBusyWorker, newCoreShareState, shareCores, wantedThreads } from '../../../src/engine/kernels/threads.js';

afterEach(() => shareCores(null));

/** A stand-in for OpenBLAS's process-wide thread count. */
function library(start = 1) {
  const calls: number[] = [];
  let n = start;
  return { get: () => n, set: (k: number) => { calls.push(k); n = k; }, calls };
}

describe('OpenBLAS threads shared by pool workers', () => {
  it('leaves the count alone without a rule', async () => {
    const lib = library(3);
    applyThreadRule(lib.get, lib.set);
    expect(lib.calls).toEqual([]);
    expect(wantedThreads()).toBeNull();
    expect(await asBusyWorker(() => 5)).toBe(5);
  });

  it('gives a lone request the idle workers\' cores and each of two busy workers one thread', async () => {
    const state = newCoreShareState();
    shareCores({ state, workers: 2, cores: 2 });
    const lib = library(1);
    await asBusyWorker(async () => {
      expect(wantedThreads()).toBe(2);
      applyThreadRule(lib.get, lib.set);
      applyThreadRule(lib.get, lib.set); // already 2: no second call
      expect(lib.calls).toEqual([2]);
      // another worker starts (its count lives in the shared state)
      Atomics.add(state, 0, 1);
      applyThreadRule(lib.get, lib.set);
      expect(lib.calls).toEqual([2, 1]);
      Atomics.sub(state, 0, 1);
    });
    expect(Atomics.load(state, 0)).toBe(0);
  });

  it('never borrows with one worker, nor beyond the cores', () => {
    shareCores({ state: newCoreShareState(), workers: 1, cores: 8 });
    expect(wantedThreads()).toBe(1);
    const state = newCoreShareState();
    shareCores({ state, workers: 8, cores: 4 });
    expect(wantedThreads()).toBe(4); // the caller counts even outside a task
    Atomics.store(state, 0, 2);
    expect(wantedThreads()).toBe(3);
    Atomics.store(state, 0, 6);
    expect(wantedThreads()).toBe(1);
  });

  it('counts a task as busy until it settles, thrown or not', async () => {
    const state = newCoreShareState();
    shareCores({ state, workers: 2, cores: 2 });
    await expect(asBusyWorker(async () => {
      expect(Atomics.load(state, 0)).toBe(1);
      throw new Error('bad request');
    })).rejects.toThrow('bad request');
    expect(Atomics.load(state, 0)).toBe(0);
  });
});
