import { describe, expect, it } from 'vitest';
import { InFlightRelay } from '../src/cluster.js';

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
