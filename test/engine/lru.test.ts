import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/engine/lru.js';

/** Two entries' room, holding a then b (b the most recent), with the keys it evicts. */
function aThenB(): { lru: Lru<string, number>; evicted: string[] } {
  const evicted: string[] = [];
  const lru = new Lru<string, number>(2, 1000);
  lru.onEvict = (k) => evicted.push(k);
  lru.set('a', 1, 10);
  lru.set('b', 2, 10);
  return { lru, evicted };
}

describe('Lru', () => {
  it('evicts the least recently used entry beyond its entry bound; a get makes an entry recent', () => {
    const { lru, evicted } = aThenB();
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3, 10);
    expect(evicted).toEqual(['b']);
    expect(lru.peek('b')).toBeUndefined();
    expect([lru.size, lru.bytes]).toEqual([2, 20]);
    expect(lru.counts).toEqual({ hits: 1, misses: 0, evictions: 1 });
  });

  it('keeps the order of use through repeated hits on the most recent entry, deletes and evictions', () => {
    const { lru, evicted } = aThenB();
    lru.get('b');
    lru.get('b');
    lru.get('a'); // now a is the most recent, b the least
    lru.get('a');
    lru.set('c', 3, 10);
    expect(evicted).toEqual(['b']);
    lru.delete('c'); // the most recent gone: a hit on a must still make it the most recent
    lru.set('d', 4, 10);
    lru.get('a');
    lru.set('e', 5, 10);
    expect(evicted).toEqual(['b', 'd']);
    expect(lru.counts.hits).toBe(5);
  });

  it('evicts as many as its byte bound needs, and keeps nothing larger than the bound alone', () => {
    const lru = new Lru<string, number>(10, 100);
    for (const k of ['a', 'b', 'c']) lru.set(k, 0, 30);
    lru.set('d', 0, 60);
    expect(['a', 'b', 'c', 'd'].filter((k) => lru.peek(k) !== undefined)).toEqual(['c', 'd']);
    expect(lru.bytes).toBe(90);
    expect(lru.set('e', 0, 101)).toBe(false);
    expect(lru.peek('e')).toBeUndefined();
    expect(lru.bytes).toBe(90);
  });

  it('replaces an entry under the same key, counting its bytes once; delete and misses do not evict', () => {
    const lru = new Lru<string, number>(2, 100);
    lru.set('a', 1, 40);
    lru.set('a', 2, 50);
    expect([lru.size, lru.bytes, lru.peek('a')]).toEqual([1, 50, 2]);
    expect(lru.get('zz')).toBeUndefined();
    expect(lru.delete('a')).toBe(2);
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
    expect(lru.counts).toEqual({ hits: 0, misses: 1, evictions: 0 });
  });
});
