import { isTensor, type Tensor } from './tensor.js';

// Results leave a worker with their buffers transferred, which fails on a buffer listed twice and
// ships a whole buffer for a view into it. Ops may legitimately share buffers (add's VJP hands `g`
// to both inputs; an output may be an input), so before a result leaves the engine every tensor in
// it gets a buffer of its own.

/**
 * Typed arrays of at most this many bytes: V8 keeps their elements in the object itself, and asking one
 * for its `.buffer` makes it allocate an ArrayBuffer apart. A copy costs less, and owns its memory.
 */
const IN_OBJECT_BYTES = 64;

function own(t: Tensor, seen: Set<ArrayBufferLike>): Tensor {
  const d = t.data;
  if (d.byteLength <= IN_OBJECT_BYTES) return { shape: t.shape, data: d.slice() };
  const whole = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength;
  if (whole && !seen.has(d.buffer)) {
    seen.add(d.buffer);
    return t;
  }
  const copy = d.slice();
  seen.add(copy.buffer);
  return { shape: t.shape, data: copy };
}

/** The same result with every tensor on a buffer no other tensor of it uses. Walks plain objects and arrays. */
export function ownBuffers<T>(result: T): T {
  const seen = new Set<ArrayBufferLike>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (isTensor(v)) return own(v, seen);
    if (depth > 8) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = walk((v as Record<string, unknown>)[k], depth + 1);
    return out;
  };
  return walk(result, 0) as T;
}
