import { errorCodes, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

// JSON in and out for bodies of megabytes. A base64 request of the 784-512-512-10 MLP is 4.6 MB and its
// answer 3.6 MB; Fastify's defaults cost ~14 ms to parse it, two regular-expression scans of the whole
// text for prototype poisoning included, and ~11 ms to write the answer (JSON.stringify copying every
// base64 string, then measuring and encoding the text again). Here the body is checked for poisoning
// on the parsed value, and the answer is assembled straight into one buffer, base64 strings copied as
// they are.
// NOTE: the body arrives as text that Fastify decoded as UTF-8, not as a Buffer decoded here as
// Latin-1: Node keeps a string of over ~1 MB decoded as Latin-1 outside the V8 heap, as external
// memory, which counts toward the limit that starts V8's full collections on the event loop (UTF-8
// decoding makes an ordinary heap string, and takes the same time). One of those collections while a
// worker computes takes a core from its two OpenBLAS threads. Over 40 large requests, measured three
// times: 10–11 → 6–7 main-thread mark-compacts.

const { FST_ERR_CTP_EMPTY_JSON_BODY, FST_ERR_CTP_INVALID_JSON_BODY } = errorCodes;

/**
 * Rejects what secure-json-parse rejects in its default mode: an own `__proto__` key anywhere, or a
 * `constructor` key holding an object with a `prototype` key. JSON.parse keeps such keys as plain
 * own properties, but copying them into another object (zod does, for records) would set a prototype.
 */
function checkPoisoning(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (typeof c === 'object' && c !== null) stack.push(c);
      }
      continue;
    }
    const o = v as Record<string, unknown>;
    if (Object.hasOwn(o, '__proto__')) throw new FST_ERR_CTP_INVALID_JSON_BODY();
    const ctor = Object.hasOwn(o, 'constructor') ? o.constructor : undefined;
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) throw new FST_ERR_CTP_INVALID_JSON_BODY();
    for (const k in o) {
      const c = o[k];
      if (typeof c === 'object' && c !== null) stack.push(c);
    }
  }
}

/** A JSON request body (its decoded text) as Fastify's default parser would give it, or its 400 error. */
export function parseJsonText(body: string): unknown {
  if (body.length === 0) throw new FST_ERR_CTP_EMPTY_JSON_BODY();
  const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FST_ERR_CTP_INVALID_JSON_BODY();
  }
  if (typeof value === 'object' && value !== null) checkPoisoning(value);
  return value;
}

/** Plain objects are written here key by key; anything else (arrays, numbers, class instances) by JSON.stringify. */
const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * The bytes of JSON.stringify(value), for response values. A `base64` string property is ours
 * (engine/wire.ts wrote it) and holds only [A-Za-z0-9+/=]: it goes into the buffer as it is, with no
 * escaping scan; everything else is written by JSON.stringify.
 */
export function jsonBuffer(value: unknown): Buffer {
  const parts: string[] = [];
  // indices in `parts` of base64 strings: one byte per character
  const raw = new Set<number>();
  const write = (v: unknown): void => {
    if (!isPlainObject(v)) {
      parts.push(JSON.stringify(v) ?? 'null');
      return;
    }
    parts.push('{');
    let first = true;
    for (const k in v) {
      const c = v[k];
      if (c === undefined || typeof c === 'function' || typeof c === 'symbol') continue;
      parts.push(first ? `${JSON.stringify(k)}:` : `,${JSON.stringify(k)}:`);
      first = false;
      if (k === 'base64' && typeof c === 'string') {
        parts.push('"');
        raw.add(parts.length);
        parts.push(c, '"');
      } else {
        write(c);
      }
    }
    parts.push('}');
  };
  write(value);
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) bytes += raw.has(i) ? parts[i]!.length : Buffer.byteLength(parts[i]!);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < parts.length; i++) at += out.write(parts[i]!, at, raw.has(i) ? 'latin1' : 'utf8');
  return out;
}

async function jsonPlugin(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    let value: unknown;
    try {
      value = parseJsonText(body as string);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, value);
  });
}

export default fp(jsonPlugin, { name: 'gradserve-json' });
