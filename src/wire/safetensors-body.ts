import { Readable, type Writable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpError } from '../errors.js';
import { preferredAnswer } from './accept.js';
import { checkPoisoning } from './json-body.js';
import { BinaryTensor, readSafetensors, SAFETENSORS, SafetensorsReader, safetensorsPieces } from './safetensors.js';
import { EncodedBase64, type Encoding } from './tensor.js';
import type { Tensor } from '../engine/tensor.js';

// safetensors bodies and answers on the compute routes (docs/binary.md). A body becomes what its JSON
// twin would have been: `__metadata__.json` parsed, each tensor a placeholder at the path its name
// spells, so the route's schema validates the whole request as it would JSON; after validation each
// placeholder is swapped for its BinaryTensor, which wire/tensor.ts decodes like any other form.

const { FST_ERR_CTP_BODY_TOO_LARGE, FST_ERR_CTP_INVALID_CONTENT_LENGTH } = errorCodes;

const ID = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
/** The longest tensor name, in a safetensors body and in a JSON body's maps alike (routes/shared/schema.ts). */
export const MAX_NAME_CHARS = 1024;
/** A name as a JSON body's keys may hold it: an ONNX file's initializers keep theirs (`0.weight`, `dense/kernel:0`). */
const isName = (s: string): boolean => s.length > 0 && s.length <= MAX_NAME_CHARS && !RESERVED.has(s);

/** The tensor fields of the request bodies: whole names, and prefixes followed by a name. */
const WHOLE = new Set(['inputs', 'targets', 'outputGrad', 'model/bytes']);
const NAMED = ['inputs/', 'params/', 'gradients/', 'model/constants/'];
/** followed by `<param>/<buffer>`: the buffer is torch's name (exp_avg), the param everything before it */
const STATE = 'optimizer/state/state/';

/** The path a tensor's name spells, or a 400 naming it. */
function pathOf(name: string): string[] {
  if (WHOLE.has(name)) return name.split('/');
  const prefix = NAMED.find((p) => name.startsWith(p));
  if (prefix !== undefined) {
    const rest = name.slice(prefix.length);
    if (isName(rest)) return [...prefix.slice(0, -1).split('/'), rest];
  } else if (name.startsWith(STATE)) {
    const rest = name.slice(STATE.length);
    const cut = rest.lastIndexOf('/');
    const [param, buffer] = [rest.slice(0, cut), rest.slice(cut + 1)];
    if (cut > 0 && isName(param) && ID.test(buffer) && !RESERVED.has(buffer)) return [...STATE.slice(0, -1).split('/'), param, buffer];
  }
  throw new HttpError('INVALID_BODY', `"${name}" names no tensor field of a request`, [
    { path: name, message: 'expected inputs, inputs/<name>, targets, outputGrad, params/<name>, gradients/<name>, model/constants/<name>, model/bytes (an ONNX file, U8) or optimizer/state/state/<param>/<buffer>' },
  ]);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof BinaryTensor);

/** A JSON request body of `__metadata__.json` with a placeholder where each tensor goes. */
export function bodyOf(file: ReturnType<typeof readSafetensors>): Record<string, unknown> {
  const text = file.metadata.json;
  let body: unknown = {};
  if (text !== undefined) {
    const bad = (message: string) => new HttpError('INVALID_BODY', `__metadata__.json ${message}`, [{ path: '__metadata__.json', message }]);
    try {
      body = JSON.parse(text);
    } catch {
      throw bad('is not valid JSON');
    }
    if (!isPlainObject(body)) throw bad('is not a JSON object (the request body without its tensors)');
    try {
      checkPoisoning(body);
    } catch {
      throw bad('has a __proto__ key, or a constructor key holding a prototype');
    }
  }
  const root = body as Record<string, unknown>;
  for (const t of file.tensors) {
    const parts = pathOf(t.name);
    if ((t.name === 'model/bytes') !== (t.dtype === 'U8') || (t.dtype === 'U8' && t.shape.length !== 1)) {
      const message = t.dtype === 'U8' ? 'U8 holds an ONNX file: only model/bytes, one dimension' : 'model/bytes holds an ONNX file: dtype U8, one dimension';
      throw new HttpError('INVALID_BODY', `tensor "${t.name}": ${message}`, [{ path: t.name, message }]);
    }
    if (parts[0] === 'model' && isPlainObject(root.model) && 'ref' in root.model) {
      const message = 'a model by reference (model.ref) already holds its constants and file: send this tensor with the model inline, or when registering it';
      throw new HttpError('INVALID_BODY', `tensor "${t.name}": ${message}`, [{ path: t.name, message }]);
    }
    let at = root;
    for (const key of parts.slice(0, -1)) {
      const next = at[key] ?? (at[key] = {});
      if (!isPlainObject(next)) {
        throw new HttpError('INVALID_BODY', `tensor "${t.name}": __metadata__.json holds ${key} as something other than an object`, [
          { path: t.name, message: `its parent ${key} in __metadata__.json is not an object` },
        ]);
      }
      at = next;
    }
    const last = parts[parts.length - 1]!;
    if (at[last] !== undefined) {
      throw new HttpError('INVALID_BODY', `tensor "${t.name}" is given twice: in the data and in __metadata__.json`, [
        { path: t.name, message: 'given both as a tensor and in __metadata__.json' },
      ]);
    }
    // a scalar passes every tensor schema, a string the ONNX file's; the BinaryTensor replaces it after validation
    at[last] = t.name === 'model/bytes' ? t.name : 0;
  }
  inferDtype(root, file.tensors);
  return root;
}

/** Without options.dtype, a body whose float tensors are all F64 computes in float64. */
function inferDtype(body: Record<string, unknown>, tensors: BinaryTensor[]): void {
  const floats = tensors.filter((t) => t.dtype !== 'I32' && t.dtype !== 'I64' && t.dtype !== 'U8');
  if (floats.length === 0 || !floats.every((t) => t.dtype === 'F64')) return;
  const options = body.options ?? (body.options = {});
  if (isPlainObject(options) && options.dtype === undefined) options.dtype = 'float64';
}

/** Puts each tensor where its placeholder was, in the validated body. */
function place(body: unknown, tensors: BinaryTensor[]): void {
  for (const t of tensors) {
    const parts = pathOf(t.name);
    let at = body as Record<string, unknown>;
    for (const key of parts.slice(0, -1)) {
      const next = at[key];
      if (!isPlainObject(next)) throw new HttpError('INVALID_BODY', `"${t.name}" is not a tensor field of this route`, [{ path: t.name, message: 'not a field of this route' }]);
      at = next;
    }
    at[parts[parts.length - 1]!] = t;
  }
}

/** Whether the client prefers a safetensors answer to JSON (wire/accept.ts). */
export function wantsSafetensors(request: FastifyRequest): boolean {
  return preferredAnswer(request.headers.accept, SAFETENSORS_ONLY) !== null;
}

const SAFETENSORS_ONLY = [SAFETENSORS] as const;

/**
 * A JSON answer, built with options.encoding base64, as the pieces of a safetensors file: every base64
 * tensor taken out and named by its path joined with "/", the rest as `__metadata__.json`.
 */
export function safetensorsAnswer(answer: unknown): Uint8Array[] {
  const tensors: [string, Tensor][] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (!isPlainObject(v)) return v;
    if (v.base64 instanceof EncodedBase64) {
      const b = v.base64.bytes;
      const data = v.dtype === 'float64' ? new Float64Array(b.buffer, b.byteOffset, b.length / 8) : new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      tensors.push([path, { shape: v.shape as number[], data }]);
      return undefined;
    }
    const out: Record<string, unknown> = {};
    const keys = Object.keys(v);
    for (const k of keys) {
      const c = walk(v[k], path === '' ? k : `${path}/${k}`);
      if (c !== undefined) out[k] = c;
    }
    // a map of tensors only (gradients, params) leaves nothing behind
    return keys.length > 0 && Object.keys(out).length === 0 ? undefined : out;
  };
  const rest = walk(answer, '');
  return safetensorsPieces(tensors, { json: JSON.stringify(rest) });
}

/** The encoding an answer is built in: base64 (its tensors' bytes, no copy) for a safetensors answer. */
export function answerEncoding(request: FastifyRequest, asked: Encoding): Encoding {
  return wantsSafetensors(request) ? 'base64' : asked;
}

/**
 * An answer's pieces as the stream Fastify sends (so its hooks run as for any answer), written when
 * it is piped: all at once, corked, so that the headers and every piece leave in one batch. Piped
 * chunk by chunk, each large piece would wait for the one before it to drain.
 */
class Pieces extends Readable {
  constructor(private readonly pieces: Uint8Array[]) {
    super();
  }

  override _read(): void {}

  override pipe<W extends NodeJS.WritableStream>(dest: W, options?: { end?: boolean }): W {
    const out = dest as unknown as Writable;
    out.cork();
    for (const p of this.pieces) out.write(p);
    if (options?.end !== false) out.end();
    out.uncork();
    this.push(null);
    this.resume(); // ends this stream, which holds no data
    return dest;
  }
}

/** The answer as the client asked: safetensors when it accepts them, JSON otherwise. */
export function sendAnswer<T>(request: FastifyRequest, reply: FastifyReply, answer: T): T {
  // the answer's form follows Accept: a cache must not give one client's to another
  reply.header('vary', 'accept');
  if (!wantsSafetensors(request)) return answer;
  const pieces = safetensorsAnswer(answer);
  let bytes = 0;
  for (const p of pieces) bytes += p.byteLength;
  // the result's arrays are written to the socket as they are, not copied into one buffer first
  return reply.type(SAFETENSORS).header('content-length', bytes).send(new Pieces(pieces)) as T;
}

// the tensors of each safetensors body, placed into it after validation
const tensorsOf = new WeakMap<FastifyRequest, BinaryTensor[]>();

/**
 * Whether a safetensors body holds some of its model's own tensors (`model/constants/...`, `model/bytes`): until
 * they are placed after validation, the model's JSON holds placeholders in their stead, so it is not
 * the model's content.
 */
export const holdsModelTensors = (request: FastifyRequest): boolean => tensorsOf.get(request)?.some((t) => t.name.startsWith('model/')) ?? false;

async function safetensorsPlugin(app: FastifyInstance): Promise<void> {
  // The body is read as it arrives (SafetensorsReader), so this parser keeps the limits Fastify keeps
  // for the parsers it hands whole bodies to: the body limit before reading, the Content-Length after.
  app.addContentTypeParser(SAFETENSORS, (request, payload, done) => {
    if (!request.routeOptions.schema?.tags?.includes('compute')) {
      done(new HttpError('UNSUPPORTED_MEDIA_TYPE', `${request.method} ${request.routeOptions.url} takes application/json; safetensors bodies go to the compute routes`), undefined);
      return;
    }
    const limit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? Infinity;
    const length = request.headers['content-length'];
    const declared = length === undefined ? undefined : Number(length);
    if (declared !== undefined && declared > limit) {
      done(new FST_ERR_CTP_BODY_TOO_LARGE(), undefined);
      return;
    }
    // without a Content-Length (chunked), the chunks are kept and read as one body at the end
    const reader = declared === undefined ? undefined : new SafetensorsReader(declared);
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err: Error | null, value?: Record<string, unknown>) => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', finish);
      done(err, value);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return finish(new FST_ERR_CTP_BODY_TOO_LARGE());
      try {
        if (reader) reader.push(chunk);
        else chunks.push(chunk);
      } catch (err) {
        finish(err as Error);
      }
    };
    const onEnd = () => {
      if (declared !== undefined && received !== declared) return finish(new FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      try {
        const file = reader ? reader.end() : readSafetensors(Buffer.concat(chunks));
        const value = bodyOf(file);
        tensorsOf.set(request, file.tensors);
        finish(null, value);
      } catch (err) {
        finish(err as Error);
      }
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', finish);
  });
  app.addHook('preHandler', (request, _reply, next) => {
    const tensors = tensorsOf.get(request);
    if (tensors !== undefined) place(request.body, tensors);
    next();
  });
}

export default fp(safetensorsPlugin, { name: 'gradserve-safetensors' });
