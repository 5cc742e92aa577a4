// A least-recently-used map bounded by its number of entries and by the bytes they hold (as the
// caller reckons them). Map keeps insertion order, so the first key is always the least recent.

export interface LruCounts {
  hits: number;
  misses: number;
  evictions: number;
}

export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private held = 0;
  /** the key last made the most recent, when it still is */
  private newest: K | undefined;
  readonly counts: LruCounts = { hits: 0, misses: 0, evictions: 0 };
  /** sees each entry dropped to make room (not those deleted or replaced by the caller) */
  onEvict?: (key: K, value: V) => void;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.held;
  }

  /** The value, now the most recent; counts a hit or a miss. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    // a hot key is often the most recent already: moving it would only churn the map's table
    if (key !== this.newest) {
      this.map.delete(key);
      this.map.set(key, e);
      this.newest = key;
    }
    return e.value;
  }

  /** The value without touching its recency or the counts. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /**
   * Stores `value` as the most recent and evicts the least recent until both bounds hold. An entry
   * larger than the byte bound on its own is not kept (false).
   */
  set(key: K, value: V, bytes: number): boolean {
    this.delete(key);
    if (bytes > this.maxBytes || this.maxEntries < 1) return false;
    this.map.set(key, { value, bytes });
    this.newest = key;
    this.held += bytes;
    while (this.map.size > this.maxEntries || this.held > this.maxBytes) {
      const [oldest, e] = this.map.entries().next().value!;
      this.map.delete(oldest);
      if (oldest === this.newest) this.newest = undefined;
      this.held -= e.bytes;
      this.counts.evictions++;
      this.onEvict?.(oldest, e.value);
    }
    return true;
  }

  /** Deletes every entry whose key passes `test` (not evictions: onEvict does not see them). */
  deleteWhere(test: (key: K) => boolean): void {
    for (const key of this.map.keys()) if (test(key)) this.delete(key);
  }

  delete(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    if (key === this.newest) this.newest = undefined;
    this.held -= e.bytes;
    return e.value;
  }
}
