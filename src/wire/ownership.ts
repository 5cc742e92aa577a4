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
