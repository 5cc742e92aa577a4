// Buffers reused from one call to the next. One gradient of a 784-512-512-10 MLP at batch 256
// allocates ~7 MB of activations, adjoints and gradients; V8 gives that memory back only at a garbage
// collection, so a stream of requests meant a collection every few calls (several ms each) and fresh
// pages faulted in on first touch. Inside `recycling(fn)` typed arrays are cut from buffers that an
// earlier call left behind; when fn returns, every buffer it took that its result does not hold goes
// back to the cache. The cache is per thread (each worker has its own module state).
// A size is cached only as many times as one call has taken it at most, and when the cache is full,
// the size asked for longest ago gives way. (A worker donates each job's buffers once answered. The
// large MLP's input, 802,816 bytes, is a size no call asks for; a chain's input is the size of its
// activations, one more than a call needs each time. Either kind filled the cache to its cap within
// 80 requests, after which the next request's gradients could no longer reuse the donated parameters.)

const MIN_BYTES = 16 * 1024; // smaller buffers are cheap to allocate and not worth tracking
const MAX_CACHED_BYTES = 64 * 2 ** 20;
/** sizes remembered while they have no buffer cached; beyond this the one asked for longest ago is forgotten */
const MAX_SIZES = 1024;

/** A size's cached buffers, the `recycling` call that last asked for that size, and how many times. */
interface SizeClass {
  buffers: ArrayBuffer[];
  askedAt: number;
  /** buffers of this size taken by the call `askedAt` */
  count: number;
  /** the most buffers of this size one call has taken: no more are cached */
  most: number;
}

const cache = new Map<number, SizeClass>();
let cachedBytes = 0;
/** `recycling` calls so far: the clock of `askedAt` */
let calls = 0;
/** buffers handed out by the current `recycling` call, or null outside one */
let taken: ArrayBuffer[] | null = null;

/**
 * The `recycling` call running (from 1), or 0 outside one: a buffer takeBuffer gives during a call is
 * handed out again only after that call.
 */
export function recyclingCall(): number {
  return taken === null ? 0 : calls;
}

/**
 * What an op's forward pass keeps beside its output for its own backward pass (max pooling's argmax,
 * gelu′, cross-entropy's exps, attention's weights), by the output (a WeakMap: it goes with the output).
 * Inside a `recycling` call it lies in the buffer cache's memory, which the next call hands out again
 * while the output may outlive the call (returned intermediates): it is given back only during the call
 * that kept it (or, kept outside any call, in memory of its own, at any time).
 */
export class Kept<K extends object, V> {
  private readonly map = new WeakMap<K, { value: V; call: number }>();

  keep(key: K, value: V): void {
    this.map.set(key, { value, call: recyclingCall() });
  }

  /** The value kept for `key`, unless its memory may since have been handed out again. */
  get(key: K): V | undefined {
    const kept = this.map.get(key);
    return kept && (kept.call === 0 || kept.call === recyclingCall()) ? kept.value : undefined;
  }

  /** Forgets `key`'s value (a backward pass that wrote over it). */
  forget(key: K): void {
    this.map.delete(key);
  }
}

/**
 * A buffer of `bytes` for allocData inside a `recycling` call, zero-filled unless `clear` is false
 * (the caller writes every byte before reading any); null outside a call (or for a small size), and
 * the caller allocates as usual.
 */
export function takeBuffer(bytes: number, clear = true): ArrayBuffer | null {
  if (taken === null || bytes < MIN_BYTES) return null;
  let size = cache.get(bytes);
  if (!size) {
    cache.set(bytes, (size = { buffers: [], askedAt: calls, count: 0, most: 0 }));
    if (cache.size > MAX_SIZES) forgetStalestEmptySize();
  } else if (size.askedAt !== calls) {
    size.askedAt = calls;
    size.count = 0;
  }
  size.most = Math.max(size.most, ++size.count);
  const reuse = size.buffers.pop();
  let buf: ArrayBuffer;
  if (reuse) {
    cachedBytes -= bytes;
    if (clear) new Uint8Array(reuse).fill(0);
    buf = reuse;
  } else {
    buf = new ArrayBuffer(bytes);
  }
  taken.push(buf);
  return buf;
}

function cacheBuffer(buf: ArrayBuffer): void {
  const bytes = buf.byteLength;
  const size = cache.get(bytes);
  // a transferred (detached) buffer has byteLength 0 and is never cached; nor a size no call asked for,
  // nor more of a size than one call has taken
  if (bytes < MIN_BYTES || bytes > MAX_CACHED_BYTES || !size || size.buffers.length >= size.most) return;
  while (cachedBytes + bytes > MAX_CACHED_BYTES) {
    const stalest = stalestSize((s) => s.buffers.length > 0);
    // nothing asked for longer ago than this size: what is cached stays, and this buffer is not kept
    if (!stalest || stalest[1].askedAt >= size.askedAt) return;
    stalest[1].buffers.pop();
    cachedBytes -= stalest[0];
  }
  size.buffers.push(buf);
  cachedBytes += bytes;
}

/** The size (and its class) asked for longest ago among those `which` accepts. */
function stalestSize(which: (s: SizeClass) => boolean): [number, SizeClass] | undefined {
  let found: [number, SizeClass] | undefined;
  for (const entry of cache) if (which(entry[1]) && (!found || entry[1].askedAt < found[1].askedAt)) found = entry;
  return found;
}

function forgetStalestEmptySize(): void {
  const stalest = stalestSize((s) => s.buffers.length === 0);
  if (stalest) cache.delete(stalest[0]);
}

/** The buffers of every typed array in `value` (plain objects and arrays walked iteratively). */
function heldBy(value: unknown): Set<ArrayBufferLike> {
  const held = new Set<ArrayBufferLike>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (ArrayBuffer.isView(v)) held.add(v.buffer);
    else for (const c of Array.isArray(v) ? v : Object.values(v)) if (c !== null && typeof c === 'object') stack.push(c);
  }
  return held;
}

/**
 * Runs `fn` with buffer reuse: what it allocates through allocData comes from the cache, and the
 * buffers it does not return are cached for the next call.
 * NOTE: this is only safe where nothing outside the returned value keeps a tensor made inside fn
 * (the engine's stateless entry points); a thrown error recycles nothing.
 */
export function recycling<T>(fn: () => T): T {
  if (taken !== null) return fn(); // nested: the outer call recycles
  taken = [];
  calls++;
  let result: T;
  let mine: ArrayBuffer[];
  try {
    result = fn();
  } finally {
    mine = taken;
    taken = null;
  }
  if (mine.length === 0) return result; // a small computation: nothing of the cache's sizes was taken
  const held = heldBy(result);
  for (const buf of mine) if (!held.has(buf)) cacheBuffer(buf);
  return result;
}

/**
 * Gives the cache the buffers of the typed arrays in `value`, which the caller will never read again,
 * except those `keep` holds. A worker donates its job once answered: the job arrived transferred, so
 * nothing else can see it, and the next job's gradients (the parameters' sizes) then reuse its
 * parameters' memory instead of fresh pages. Views of part of a buffer are left alone.
 */
export function donateBuffers(value: unknown, keep: unknown): void {
  const held = heldBy(keep);
  for (const buf of wholeBuffers(value)) if (!held.has(buf)) cacheBuffer(buf);
}

/**
 * The ArrayBuffers that typed arrays in `value` (plain objects and arrays, walked iteratively) view
 * whole, each once: the buffers a caller done with `value` may reuse. A buffer that one of them views
 * only part of is left out, as another may view the rest.
 */
export function wholeBuffers(value: unknown): ArrayBuffer[] {
  const whole = new Set<ArrayBuffer>();
  /** buffers some typed array views only part of */
  const shared = new Set<ArrayBufferLike>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (ArrayBuffer.isView(v)) {
      const buf = v.buffer;
      if (v.byteOffset === 0 && v.byteLength === buf.byteLength && buf instanceof ArrayBuffer) {
        if (!shared.has(buf)) whole.add(buf);
      } else {
        shared.add(buf);
        whole.delete(buf as ArrayBuffer);
      }
    } else {
      for (const c of Array.isArray(v) ? v : Object.values(v)) if (c !== null && typeof c === 'object') stack.push(c);
    }
  }
  return [...whole];
}

/** Empties the cache and forgets the sizes asked for (the memory bench measures a call's allocations from a cold start). */
export function dropCachedBuffers(): void {
  cache.clear();
  cachedBytes = 0;
}

export function cachedBufferBytes(): number {
  return cachedBytes;
}
