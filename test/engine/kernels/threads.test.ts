import { afterEach, describe, expect, it } from 'vitest';
import { applyThreadRule, countInFlight, inFlightHere, newCoreShareState, setInFlightElsewhere, setInFlightLately, shareCores, singleThreaded, wantedThreads, worthSplitting } from '../../../src/engine/kernels/threads.js';

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

  it('counts the requests in flight in the replica\'s other processes too, and the most in flight lately', () => {
    const state = newCoreShareState();
    shareCores({ state, workers: 2, cores: 2 });
    countInFlight(state, 1);
    expect(wantedThreads()).toBe(2);
    setInFlightElsewhere(state, 1);
    expect(wantedThreads()).toBe(1);
    expect(inFlightHere(state)).toBe(1);
    setInFlightElsewhere(state, 0);
    expect(wantedThreads()).toBe(2);
    // two were in flight together a moment ago: still one thread each
    setInFlightLately(state, 2);
    expect(wantedThreads()).toBe(1);
    setInFlightLately(state, 1);
    expect(wantedThreads()).toBe(2);
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

describe('which products are divided among OpenBLAS threads', () => {
  it('not a LeNet-sized convolution\'s (a few million multiply-adds), nor a small output however deep', () => {
    // [m, n, k] of the CNN bench's products: the first convolution forward, the second forward and
    // its input gradient, its weight gradient
    for (const [m, n, k] of [[6, 64 * 576, 25], [16, 64 * 64, 150], [150, 64 * 64, 16], [16, 150, 64 * 64]]) {
      expect(worthSplitting(m!, n!, k!)).toBe(false);
    }
    expect(worthSplitting(6, 25, 10 ** 7)).toBe(false);
  });

  it('a transformer block\'s linear layers and the large MLP\'s layers', () => {
    for (const [m, n, k] of [[1024, 128, 128], [1024, 512, 128], [256, 512, 784], [784, 512, 256]]) {
      expect(worthSplitting(m!, n!, k!)).toBe(true);
    }
  });
});
