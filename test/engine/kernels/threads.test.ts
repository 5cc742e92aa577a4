import { afterEach, describe, expect, it } from 'vitest';
import { applyThreadRule, countInFlight, newCoreShareState, shareCores, singleThreaded, wantedThreads } from '../../../src/engine/kernels/threads.js';

afterEach(() => shareCores(null));

/** A stand-in for OpenBLAS's process-wide thread count. */
function library(start = 1) {
  const calls: number[] = [];
  let n = start;
  return { get: () => n, set: (k: number) => { calls.push(k); n = k; }, calls };
}

describe('OpenBLAS threads shared by pool workers', () => {
  it('leaves the count alone without a rule', () => {
    const lib = library(3);
    applyThreadRule(lib.get, lib.set);
    expect(lib.calls).toEqual([]);
    expect(wantedThreads()).toBeNull();
  });

  it('gives a lone request the idle workers\' cores, and one thread each once another request is in flight', () => {
    const state = newCoreShareState();
    shareCores({ state, workers: 2, cores: 2 });
    const lib = library(1);
    countInFlight(state, 1);
    expect(wantedThreads()).toBe(2);
    applyThreadRule(lib.get, lib.set);
    applyThreadRule(lib.get, lib.set); // already 2: no second call
    expect(lib.calls).toEqual([2]);
    countInFlight(state, 1); // a second request, running or queued
    applyThreadRule(lib.get, lib.set);
    expect(lib.calls).toEqual([2, 1]);
    countInFlight(state, 1);
    applyThreadRule(lib.get, lib.set);
    expect(lib.calls).toEqual([2, 1]);
    countInFlight(state, -1);
    countInFlight(state, -1);
    applyThreadRule(lib.get, lib.set);
    expect(lib.calls).toEqual([2, 1, 2]);
  });

  it('never borrows with one worker, nor beyond the cores', () => {
    shareCores({ state: newCoreShareState(), workers: 1, cores: 8 });
    expect(wantedThreads()).toBe(1);
    const state = newCoreShareState();
    shareCores({ state, workers: 8, cores: 4 });
    expect(wantedThreads()).toBe(4); // the caller counts even when nothing is counted in flight
    countInFlight(state, 1);
    countInFlight(state, 1);
    expect(wantedThreads()).toBe(3);
    for (let i = 0; i < 10; i++) countInFlight(state, 1);
    expect(wantedThreads()).toBe(1);
  });

  it('runs a product on one thread and gives the count back: the one found without a rule, the rule\'s with one', () => {
    const lib = library(3);
    const seen: number[] = [];
    const product = () => seen.push(lib.get());
    singleThreaded(lib.get, lib.set, product);
    expect(seen).toEqual([1]);
    expect(lib.calls).toEqual([1, 3]);
    // already one thread: nothing to set
    const one = library(1);
    singleThreaded(one.get, one.set, product);
    expect(one.calls).toEqual([]);
    // with a rule, the count the rule gives now (a second request arrived during the product), not the one found
    const state = newCoreShareState();
    shareCores({ state, workers: 2, cores: 2 });
    countInFlight(state, 1);
    const ruled = library(2);
    singleThreaded(ruled.get, ruled.set, () => countInFlight(state, 1));
    expect(ruled.calls).toEqual([1]);
    countInFlight(state, -1);
    applyThreadRule(ruled.get, ruled.set); // alone again: the next large product takes both
    singleThreaded(ruled.get, ruled.set, product);
    expect(ruled.calls).toEqual([1, 2, 1, 2]);
    // and when the product throws
    expect(() => singleThreaded(ruled.get, ruled.set, () => { throw new Error('boom'); })).toThrow('boom');
    expect(ruled.calls).toEqual([1, 2, 1, 2, 1, 2]);
  });
});

