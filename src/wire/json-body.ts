import { randomUUID } from 'node:crypto';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { decodeBase64Text, EncodedBase64, Float32Json, type DecodedBase64 } from './tensor.js';
import { nextBody } from './ownership.js';
import { HttpError } from '../errors.js';

// JSON in and out for bodies of megabytes (a base64 request of the 784-512-512-10 MLP, and its answer).
// Fastify's defaults cost more than the computation for them: two regular-expression scans of the whole
// text for prototype poisoning when parsing, and JSON.stringify copying every base64 string, then
// measuring and encoding the text again, when answering. Here the body is checked for poisoning
// on the parsed value, its long base64 values are neither decoded as text nor parsed (liftBase64), and
// an answer that holds long base64 values is assembled straight into one buffer, each tensor's bytes
// encoded into it as it goes (EncodedBase64).
// NOTE: no string of megabytes is made from the body (Node keeps a Latin-1 one of over ~1 MB outside
// the V8 heap, as external memory, and a UTF-8 one in the large-object space), and the body is not kept
// past parsing: its long base64 values are decoded as it is parsed. What V8 still sees of a large
// request, its ArrayBuffers on the event loop, is why server.ts lets the old generation grow 4×
// between full collections: one of those while a worker computes takes a core from its OpenBLAS threads.

const { FST_ERR_CTP_EMPTY_JSON_BODY, FST_ERR_CTP_INVALID_JSON_BODY } = errorCodes;

/** Fastify's error for a body that is not JSON, saying why. */
const invalidJson = (why: string) => Object.assign(new FST_ERR_CTP_INVALID_JSON_BODY(), { message: `the body is not valid JSON: ${why}` });

/**
 * A base64 string at least this long is lifted out of a body's text before JSON.parse, and makes an
 * answer worth assembling as a buffer, as does a float32 tensor whose text may be this long.
 */
export const LONG_BASE64_CHARS = 4096;

/** Long base64 values cut out of a body; each replaced in its text by `prefix` + its index. */
export interface Lifted {
  /** the values, decoded */
  values: DecodedBase64[];
  /** as JSON.parse gives it: a NUL, a random UUID, a colon (no client can send it by chance) */
  prefix: string;
}

const KEY = Buffer.from('"base64"', 'latin1');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * JSON.parse copies every string it reads, and decoding the body into one string first costs as much
 * again.
 * The base64 values are most of it, and need neither: each `"base64": "…"` value of at least
 * `minChars` bytes with no backslash is cut out of the bytes, decoded from them (wire/tensor.ts), and
 * its place taken by a placeholder; only the rest is decoded as UTF-8 and parsed. `restoreLifted` puts
 * the decoded values back once the body has been validated; the tensor decoder checks them against
 * their shape and dtype as it would the text. The decoded bytes are fewer than the body's, which the
 * body limit bounds; the element limit still comes before anything a tensor's shape asks for.
 * The cuts are at ASCII quotes, so no UTF-8 character is split. Why a match is a key: its first quote
 * has an even number of backslashes before it, so it is not escaped, and an unescaped quote starts or
 * ends a string; if it ended one, the text is not JSON, and still is not with the value cut out. The
 * value ends at the next quote, unescaped as the value has no backslash.
 * NOTE: the one thing JSON.parse would check in a cut-out value is that it has no raw control
 * character. Such a value is left to the decoder, which decodes no bytes from a character outside the
 * base64 alphabet: its length no longer matches (wire/tensor.ts), a 422 for that field instead of a 400.
 */
function liftBase64(body: Buffer, minChars: number): { text: string; lifted: Lifted } | null {
  let at = body.indexOf(KEY);
  if (at < 0) return null;
  const parts: string[] = [];
  const values: DecodedBase64[] = [];
  let id = '';
  let from = 0;
  // the first backslash at or after the current value's start
  let backslash = -1;
  for (; at >= 0; at = body.indexOf(KEY, at + 1)) {
    let escapes = 0;
    while (at - escapes > 0 && body[at - escapes - 1] === BACKSLASH) escapes++;
    if (escapes % 2 === 1) continue;
    let i = at + KEY.length;
    while (isSpace(body[i])) i++;
    if (body[i] !== 0x3a) continue; // ':'
    i++;
    while (isSpace(body[i])) i++;
    if (body[i] !== QUOTE) continue;
    const start = i + 1;
    const end = body.indexOf(QUOTE, start);
    if (end < 0) break;
    if (backslash < start) backslash = body.indexOf(BACKSLASH, start) >>> 0; // none: 2^32 - 1
    if (end - start < minChars || backslash < end) continue;
    if (id === '') {
      id = randomUUID();
      nextBody();
    }
    // with JSON's escape of a NUL, which JSON.parse turns into the prefix below
    parts.push(body.toString('utf8', from, start), `\\u0000${id}:${values.length}`);
    values.push(decodeBase64Text(body.subarray(start, end)));
    from = end;
    at = end;
  }
  if (values.length === 0) return null;
  parts.push(body.toString('utf8', from));
  return { text: parts.join(''), lifted: { values, prefix: `\u0000${id}:` } };
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

// secure-json-parse's: a "__proto__" or "constructor" key, each character as itself or \u-escaped
const SUSPECT_PROTO = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;
const SUSPECT_CONSTRUCTOR =
  /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

/**
 * Rejects what secure-json-parse rejects in its default mode: an own `__proto__` key anywhere, or a
 * `constructor` key holding an object with a `prototype` key. JSON.parse keeps such keys as plain
 * own properties, but copying them into another object (zod does, for records) would set a prototype.
 */
export function checkPoisoning(root: unknown): void {
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
    if (Object.hasOwn(o, '__proto__')) throw invalidJson('a "__proto__" key is refused (prototype poisoning)');
    const ctor = Object.hasOwn(o, 'constructor') ? o.constructor : undefined;
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) throw invalidJson('a "constructor.prototype" key is refused (prototype poisoning)');
    for (const k in o) {
      const c = o[k];
      if (typeof c === 'object' && c !== null) stack.push(c);
    }
  }
}

/**
 * A JSON request body as Fastify's default parser would give it, or its 400 error, with its long
 * base64 values left as placeholders (`lifted`, null when there are none). `minLift`: the shortest
 * base64 value lifted out before parsing (a parameter for tests).
 * A short body that opens with its model spec (`{"model": {…}, …}`, as clients repeating a spec write
 * it) has the spec's text looked up in `knownModel` first: a model it names is put in the spec's place
 * unparsed (the text parsed whole once before), and otherwise the text is returned as `modelText`.
 */
export function parseJsonBody(
  body: Buffer,
  minLift = LONG_BASE64_CHARS,
  knownModel?: (text: string) => object | undefined,
): { value: unknown; lifted: Lifted | null; modelText?: string } {
  if (body.length === 0) throw Object.assign(new FST_ERR_CTP_EMPTY_JSON_BODY(), { message: 'the body is empty: send a JSON object' });
  const bytes = body.subarray(0, 3).equals(BOM) ? body.subarray(3) : body;
  // a body shorter than one liftable value is parsed as it is (the two-weight chain's, say)
  const cut = bytes.length >= minLift ? liftBase64(bytes, minLift) : null;
  const text = cut?.text ?? bytes.toString('utf8');
  const span = cut === null && knownModel !== undefined ? leadingModel(text) : undefined;
  const modelText = span === undefined ? undefined : text.slice(span.start, span.end);
  if (span !== undefined) {
    const model = knownModel!(modelText!);
    if (model !== undefined) {
      let value: unknown;
      try {
        value = parseText(`{"model":0${text.slice(span.end)}`);
      } catch {
        // parsed whole below, for the error's own position
      }
      if (value !== undefined && (value as { model: unknown }).model === 0) {
        (value as { model: unknown }).model = model;
        return { value, lifted: null };
      }
    }
  }
  const value = parseText(text, cut === null ? undefined : 'a syntax error');
  return { value, lifted: cut?.lifted ?? null, modelText };
}

/**
 * JSON.parse's value of `text`, checked for prototype poisoning. A syntax error says `why` when given
 * (JSON.parse's position is in the text it parsed, not the body's when values were lifted).
 */
function parseText(text: string, why?: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalidJson(why ?? (e as Error).message);
  }
  // walked only when its text holds such a key, as secure-json-parse does
  if (typeof value === 'object' && value !== null && (SUSPECT_PROTO.test(text) || SUSPECT_CONSTRUCTOR.test(text))) checkPoisoning(value);
  return value;
}

const MODEL_KEY = '{"model":';

/**
 * Where the object that is the value of a body's first key, "model", starts and ends in its text;
 * undefined when a later key may name a model too (JSON.parse keeps the last of two): one that reads
 * "model", or any escape \u in the text after it.
 */
function leadingModel(text: string): { start: number; end: number } | undefined {
  if (!text.startsWith(MODEL_KEY)) return undefined;
  let i = MODEL_KEY.length;
  while (text.charCodeAt(i) === 0x20) i++;
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  const start = i;
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return text.includes('"model"', i) || text.includes('\\u', i) ? undefined : { start, end: i + 1 };
  }
  return undefined;
}

/**
 * Puts the lifted values back into a body that JSON.parse's value was validated into: each placeholder
 * `base64` string becomes its decoded value. Arrays are entered only when they hold objects.
 */
export function restoreLifted(root: unknown, lifted: Lifted): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      const first: unknown = v[0];
      if (typeof first === 'object' && first !== null) for (const c of v) stack.push(c);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const c = o[k];
      if (k === 'base64' && typeof c === 'string' && c.startsWith(lifted.prefix)) {
        o[k] = lifted.values[Number(c.slice(lifted.prefix.length))];
      } else if (typeof c === 'object' && c !== null) {
        stack.push(c);
      }
    }
  }
}

/** Plain objects are written here key by key; anything else (arrays, numbers, class instances) by JSON.stringify. */
const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * The bytes of JSON.stringify(value), then `end`, for response values. A `base64` property is ours
 * (wire/tensor.ts wrote it): an EncodedBase64 is encoded straight into the buffer, a string (only
 * [A-Za-z0-9+/=]) copied as it is, with no escaping scan; a Float32Json prints its numbers into the
 * buffer; everything else is written by JSON.stringify.
 */
export function jsonBuffer(value: unknown, end = ''): Buffer {
  const parts: (string | EncodedBase64 | Float32Json)[] = [];
  // indices in `parts` of base64 strings: one byte per character
  const raw = new Set<number>();
  const write = (v: unknown): void => {
    if (v instanceof Float32Json) {
      parts.push(v);
      return;
    }
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
      if (k === 'base64' && (typeof c === 'string' || c instanceof EncodedBase64)) {
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
  if (end !== '') parts.push(end);
  // exact but for the float32 texts, which are only known once written
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    bytes += p instanceof Float32Json ? p.maxBytes : raw.has(i) ? p.length : Buffer.byteLength(p as string);
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    at += typeof p === 'string' ? out.write(p, at, raw.has(i) ? 'latin1' : 'utf8') : p.writeInto(out, at);
  }
  return out.subarray(0, at);
}

/**
 * Whether `root` holds a base64 value (a string or an EncodedBase64) of LONG_BASE64_CHARS characters or
 * more, or a Float32Json whose text may be as long (either is then always a property of a plain object).
 * Arrays are entered only when they hold objects: nested or flat tensor data is skipped.
 */
function holdsLongTensor(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      const first: unknown = v[0];
      if (typeof first === 'object' && first !== null && !Array.isArray(first)) for (const c of v) stack.push(c);
      continue;
    }
    if (!isPlainObject(v)) continue;
    for (const k in v) {
      const c = v[k];
      if (k === 'base64' && (typeof c === 'string' || c instanceof EncodedBase64) && c.length >= LONG_BASE64_CHARS) return true;
      if (c instanceof Float32Json) {
        if (c.maxBytes >= LONG_BASE64_CHARS) return true;
      } else if (typeof c === 'object' && c !== null) stack.push(c);
    }
  }
  return false;
}

/**
 * A response body, ending with a newline as every answer does (a shell prompt does not stick to it):
 * jsonBuffer's bytes when the value holds long base64 strings or float32 tensors, JSON.stringify's text
 * otherwise. For a small answer the text is several times cheaper to make, and Node writes it with the
 * headers in one piece.
 */
export function jsonBody(value: unknown): Buffer | string {
  return holdsLongTensor(value) ? jsonBuffer(value, '\n') : `${JSON.stringify(value) ?? 'null'}\n`;
}

// the lifted values of each request whose body had any, until its handler runs
const liftedOf = new WeakMap<FastifyRequest, Lifted>();

/**
 * For a body whose long base64 values were lifted out: the base64 text a placeholder stands for (the
 * value the client sent), so that what is hashed before validation is the body's content, not the
 * placeholders, which differ from request to request. Undefined for other bodies.
 */
export function liftedText(request: FastifyRequest): ((s: string) => string | undefined) | undefined {
  const lifted = liftedOf.get(request);
  if (lifted === undefined) return undefined;
  return (s) => (s.startsWith(lifted.prefix) ? lifted.values[Number(s.slice(lifted.prefix.length))]?.text() : undefined);
}

// the text of the model spec a body opened with, when it named no known model, until its handler runs
const modelTextOf = new WeakMap<FastifyRequest, string>();

/**
 * The text of the model spec a JSON body opened with, as the client wrote it (parseJsonBody), when it
 * named no known model: what to know the model by once it is (JsonOptions.knownModel).
 */
export const leadingModelText = (request: FastifyRequest): string | undefined => modelTextOf.get(request);

export interface JsonOptions {
  /** the model a spec of this text names, if known; looked up before the body is parsed (parseJsonBody) */
  knownModel?: (text: string) => object | undefined;
}

/** Charsets whose bytes read as UTF-8 (ASCII is a subset). */
const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/** The charset parameter of a Content-Type, unquoted, or undefined. */
function declaredCharset(contentType: string | undefined): string | undefined {
  return contentType === undefined ? undefined : /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1];
}

async function jsonPlugin(app: FastifyInstance, { knownModel }: JsonOptions): Promise<void> {
  // answers of routes without a response schema (GET /, /openapi.json) are written the same way
  app.setReplySerializer((payload) => jsonBody(payload) as string);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    // a GET or DELETE from a client that labels every request JSON, with nothing in it
    if ((body as Buffer).length === 0 && (request.method === 'GET' || request.method === 'DELETE')) {
      done(null, undefined);
      return;
    }
    const charset = declaredCharset(request.headers['content-type']);
    if (charset !== undefined && !UTF8.has(charset.toLowerCase())) {
      done(new HttpError('UNSUPPORTED_MEDIA_TYPE', `JSON is read as UTF-8 (RFC 8259), and this body declares charset=${charset}: send it as UTF-8`), undefined);
      return;
    }
    let parsed: ReturnType<typeof parseJsonBody>;
    try {
      parsed = parseJsonBody(body as Buffer, LONG_BASE64_CHARS, knownModel);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    if (parsed.lifted !== null) liftedOf.set(request, parsed.lifted);
    if (parsed.modelText !== undefined) modelTextOf.set(request, parsed.modelText);
    done(null, parsed.value);
  });
  // after validation, which sees the placeholders as strings; before the handler decodes the tensors
  app.addHook('preHandler', (request, _reply, next) => {
    const lifted = liftedOf.get(request);
    if (lifted !== undefined) restoreLifted(request.body, lifted);
    next();
  });
}

export default fp(jsonPlugin, { name: 'gradserve-json' });
