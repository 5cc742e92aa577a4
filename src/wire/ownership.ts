import { wholeBuffers } from '../engine/buffers.js';

// Who owns a buffer, on its way between the event loop and a worker. A tensor's buffer is moved
// (transferred), never copied, when the tensor owns all of it; a view into part of a buffer is copied
// first. Decoders hand out tensors on buffers of their own (wire/tensor.ts, wire/safetensors.ts).

/**
 * The buffers of every typed array inside `value` (plain objects and arrays walked iteratively),
 * each once. A typed array that views only part of its buffer is replaced by a compact copy first:
 * transferring would otherwise move (and structured clone would copy) the whole backing store, which
 * may be a large pool or a WebAssembly memory that cannot be detached at all.
 */
export function collectTransferables(value: unknown): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c = v[i];
        if (ArrayBuffer.isView(c)) v[i] = own(c, seen);
        else if (c !== null && typeof c === 'object') stack.push(c);
      }
      continue;
    }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) continue; // ports, Maps, class instances
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const c = obj[key];
      if (ArrayBuffer.isView(c)) obj[key] = own(c, seen);
      else if (c !== null && typeof c === 'object') stack.push(c);
    }
  }
  return [...seen];
}

function own(view: ArrayBufferView, seen: Set<ArrayBuffer>): ArrayBufferView {
  const buf = view.buffer;
  if (!(buf instanceof ArrayBuffer)) return view; // SharedArrayBuffer: shared, never moved
  if (view.byteOffset === 0 && view.byteLength === buf.byteLength) {
    seen.add(buf);
    return view;
  }
  const copy = (view as Float64Array).slice();
  seen.add(copy.buffer as ArrayBuffer);
  return copy;
}

// The event loop's spare buffers. A large body's tensors are read onto buffers of their own, which
// move to a worker; fresh memory costs the event loop its page faults on first touch (for the large
// MLP's 3.5 MB body, more than the copying). The answer's tensors come back from the worker on
// buffers of their own, and a model's gradients have its parameters' sizes: once an answer is
// written, its buffers serve the next bodies' tensors of those sizes.

/** smaller buffers are cheap to allocate fresh and not worth keeping */
const SPARE_MIN_BYTES = 64 * 1024;
const SPARE_MAX_BYTES = 32 * 2 ** 20;
/** sizes remembered as asked for; beyond this, all are forgotten (and their buffers dropped) */
const SPARE_MAX_SIZES = 256;

/** By size: the buffers kept, and the most of that size one body has asked for (no more are kept). */
const spare = new Map<number, { buffers: ArrayBuffer[]; most: number; asked: number; count: number }>();
let spareBytes = 0;
/** bodies read so far: which one last asked for a size */
let bodies = 0;

/** Starts a body: its ownBuffer calls count together toward each size's `most`. */
export function nextBody(): void {
  bodies++;
}

/**
 * A buffer of exactly `bytes` that nothing else holds, not zeroed: the caller writes every byte
 * before any is read. A spare one when there is one of that size.
 */
export function ownBuffer(bytes: number): ArrayBuffer {
  if (bytes >= SPARE_MIN_BYTES) {
    let size = spare.get(bytes);
    if (size === undefined) {
      if (spare.size >= SPARE_MAX_SIZES) dropSpares();
      spare.set(bytes, (size = { buffers: [], most: 0, asked: bodies, count: 0 }));
    }
    if (size.asked !== bodies) {
      size.asked = bodies;
      size.count = 0;
    }
    size.most = Math.max(size.most, ++size.count);
    const buf = size.buffers.pop();
    if (buf !== undefined) {
      spareBytes -= bytes;
      return buf;
    }
  }
  // allocUnsafeSlow: a buffer of its own, not a slice of Node's pool
  return Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
}

/**
 * Keeps the buffers of the typed arrays in `value` for ownBuffer:
 * the caller will never read them again, and nothing else holds them (an answer's tensors, once
 * written). Only whole buffers of sizes bodies asked for, as many as one body asked for.
 */
export function spareBuffers(value: unknown): void {
  for (const buf of wholeBuffers(value)) {
    const size = spare.get(buf.byteLength);
    if (size === undefined || size.buffers.length >= size.most || spareBytes + buf.byteLength > SPARE_MAX_BYTES) continue;
    size.buffers.push(buf);
    spareBytes += buf.byteLength;
  }
}

/** Whether any body has asked for a size worth keeping: until one has, answers are not walked for spares. */
export const sparesWanted = (): boolean => spare.size > 0;

/** Forgets every size and drops the buffers kept (also for tests). */
export function dropSpares(): void {
  spare.clear();
  spareBytes = 0;
}

/** The bytes kept (tests). */
export const spareBufferBytes = (): number => spareBytes;
