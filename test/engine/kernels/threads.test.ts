import { afterEach, describe, expect, it } from 'vitest';
import { applyThreadRule, countInFlight, newCoreShareState, shareCores, wantedThreads } from '../../../src/engine/kernels/threads.js';

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
});
