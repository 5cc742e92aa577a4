import { describe, expect, it } from 'vitest';
import { InFlightRelay, RateWindows } from '../src/cluster.js';

describe('the primary relaying requests in flight (PROCESSES > 1)', () => {
  it('tells each process the sum of the others\' counts, only when it changes, and forgets a process that ended', () => {
    const told: [string, number][] = [];
    const relay = new InFlightRelay<string>((to, n) => told.push([to, n]));
    relay.set('a', 0);
    relay.set('b', 0);
    expect(told).toEqual([['a', 0], ['b', 0]]);
    told.length = 0;
    relay.set('a', 2);
    expect(told).toEqual([['b', 2]]);
    told.length = 0;
    relay.set('c', 1);
    expect(told).toEqual([['a', 1], ['b', 3], ['c', 2]]);
    told.length = 0;
    relay.set('a', 2); // no change
    expect(told).toEqual([]);
    relay.set('b', undefined);
    expect(told).toEqual([]);
    relay.set('c', undefined);
    expect(told).toEqual([['a', 0]]);
    expect(relay.get('c')).toBeUndefined();
  });
});

describe('RATE_LIMIT counted by the primary (PROCESSES > 1)', () => {
  it('counts each client in fixed windows from its first request, and forgets the least recently seen past its bound', () => {
    const rates = new RateWindows(2);
    expect(rates.count('a', 60_000, 1_000)).toEqual({ current: 1, ttl: 60_000 });
    expect(rates.count('a', 60_000, 31_000)).toEqual({ current: 2, ttl: 30_000 });
    expect(rates.count('b', 60_000, 31_000)).toEqual({ current: 1, ttl: 60_000 });
    // a's window is over: a new one starts
    expect(rates.count('a', 60_000, 61_000)).toEqual({ current: 1, ttl: 60_000 });
    // a third client pushes out the least recently seen (b)
    expect(rates.count('c', 60_000, 62_000)).toEqual({ current: 1, ttl: 60_000 });
    expect(rates.count('a', 60_000, 62_000)).toEqual({ current: 2, ttl: 59_000 });
    expect(rates.count('b', 60_000, 62_000)).toEqual({ current: 1, ttl: 60_000 });
  });
});
