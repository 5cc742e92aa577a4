import { HttpError } from '../errors.js';
import { SpecError, type Path } from '../engine/errors.js';
import { checkFloat32Range, integerData } from './integers.js';
import { allocData, firstNonFinite, size, type Data, type DType, type Tensor } from '../engine/tensor.js';
import { nextBody, ownBuffer } from './ownership.js';

// The safetensors container (docs/binary.md): an 8-byte little-endian header length N, N bytes of
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
// then the tensors' little-endian bytes, back to back, offsets relative to the end of the header.
// The reader checks the whole layout before a tensor is touched. A body of known length is read as it
// arrives, each tensor onto a buffer of its own (SafetensorsReader); a whole body (a chunked request,
// or a caller holding a file) is read in place, each tensor a view into it. Either is converted only
// once its route has counted the elements.
// NOTE: typed arrays use the platform's byte order; every platform Node 20 supports is little-endian.

export const SAFETENSORS = 'application/vnd.gradserve.safetensors';

/** The longest header read: it is decoded as text and parsed before anything else is known. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/** Bytes per element of the dtypes read (U8: an ONNX file's bytes only); answers are written as F32 or F64. */
const DTYPE_BYTES = { F32: 4, F64: 8, I64: 8, I32: 4, F16: 2, BF16: 2, U8: 1 } as const;
export type BinaryDType = keyof typeof DTYPE_BYTES;
const isBinaryDType = (s: unknown): s is BinaryDType => typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);

const MAX_RANK = 8;

/** One tensor of a safetensors body: its name, declared dtype and shape, and its bytes (a view into the body). */
export class BinaryTensor {
  constructor(
    readonly name: string,
    readonly dtype: BinaryDType,
    readonly shape: number[],
    readonly bytes: Uint8Array,
    /** F32 and F64 read as they arrive: the index of the first element not finite, -1 for none */
    readonly nonFinite?: number,
  ) {}
}

export interface SafetensorsFile {
  tensors: BinaryTensor[];
  /** `__metadata__`, string to string (absent: empty) */
  metadata: Record<string, string>;
}

const malformed = (detail: string, name?: string) =>
  new HttpError('INVALID_BODY', detail, name === undefined ? [] : [{ path: name, message: detail }]);

interface Entry {
  name: string;
  dtype: BinaryDType;
  shape: number[];
  /** byte offsets in the data (after the header) */
  begin: number;
  end: number;
}

/** The header's length N from the body's first 8 bytes, refused past MAX_HEADER_BYTES or past the body's `bodyBytes`. */
function headerLength(first: Uint8Array, bodyBytes: number): number {
  if (bodyBytes < 8) throw malformed(`a safetensors body starts with an 8-byte header length; this one has ${bodyBytes} bytes`);
  const declared = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  const n = Number(declared);
  if (8 + n > bodyBytes) {
    // JSON sent with the safetensors type: its first bytes read as an absurd length
    const json = first[0] === 0x7b || first[0] === 0x20 || first[0] === 0x0a ? ': the body starts like JSON, which goes with Content-Type: application/json' : '';
    throw malformed(`the header length ${declared} (the body's first 8 bytes, little-endian) runs past the end of the ${bodyBytes}-byte body${json}`);
  }
  if (n > MAX_HEADER_BYTES) {
    throw new HttpError('BODY_TOO_LARGE', `the safetensors header is ${n} bytes, over the limit of ${MAX_HEADER_BYTES}`);
  }
  return n;
}

/**
 * The header's JSON parsed and checked against the `dataBytes` that follow it: its entries in the
 * header's order and in the data's, and its metadata.
 */
function readHeader(json: Uint8Array, dataBytes: number): { entries: Entry[]; inDataOrder: Entry[]; metadata: Record<string, string> } {
  const text = Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw malformed('the safetensors header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw malformed('the safetensors header is not a JSON object');
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) throw malformed(`the safetensors header names "${duplicate}" twice`, duplicate);

  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = readMetadata(entry);
      continue;
    }
    entries.push({ name, ...readEntry(name, entry, dataBytes) });
  }

  // the tensors must tile the data exactly: no overlap, no hole, nothing after the last
  const inDataOrder = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous = '';
  for (const e of inDataOrder) {
    if (e.begin < at) throw malformed(`the bytes of "${e.name}" overlap those of "${previous}"`, e.name);
    if (e.begin > at) throw malformed(`bytes ${at}–${e.begin} of the data belong to no tensor (a hole before "${e.name}")`, e.name);
    at = e.end;
    previous = e.name;
  }
  if (at !== dataBytes) throw malformed(`the data holds ${dataBytes} bytes but the tensors cover ${at}`);
  return { entries, inDataOrder, metadata };
}

/** Parses and checks the layout of a whole safetensors body: a 4xx HttpError for anything malformed. */
export function readSafetensors(body: Uint8Array): SafetensorsFile {
  const n = headerLength(body, body.length);
  const dataStart = 8 + n;
  const { entries, metadata } = readHeader(body.subarray(8, dataStart), body.length - dataStart);
  const tensors = entries.map(
    (e) => new BinaryTensor(e.name, e.dtype, e.shape, new Uint8Array(body.buffer, body.byteOffset + dataStart + e.begin, e.end - e.begin)),
  );
  return { tensors, metadata };
}

/**
 * A safetensors body of a known length read as it arrives: once the header is in and checked, the
 * chunks that follow are copied straight onto a buffer of each tensor's own — no body-sized buffer, no
 * second copy. A tensor's buffer is made when its first byte arrives, so memory grows with the bytes
 * received, as it would for a body read whole; the body's length is bounded before it is read.
 */
export class SafetensorsReader {
  /** the chunks up to the end of the header */
  private head: Buffer[] = [];
  private headBytes = 0;
  private headerLen = -1;
  private header: ReturnType<typeof readHeader> | undefined;
  private readonly own = new Map<Entry, Uint8Array>();
  /** of each float tensor received whole, its first element not finite (BinaryTensor.nonFinite) */
  private readonly nonFinite = new Map<Entry, number>();
  /** the tensor being received (an index in header.inDataOrder) */
  private target = 0;
  /** bytes of data received */
  private at = 0;

  constructor(private readonly bodyBytes: number) {
    nextBody();
  }

  push(chunk: Buffer): void {
    if (this.header !== undefined) {
      this.copy(chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headerLen < 0 && this.headBytes >= 8) this.headerLen = headerLength(Buffer.concat(this.head, 8), this.bodyBytes);
    if (this.headerLen < 0 || this.headBytes < 8 + this.headerLen) return;
    const head = Buffer.concat(this.head);
    this.head = [];
    const dataStart = 8 + this.headerLen;
    this.header = readHeader(head.subarray(8, dataStart), this.bodyBytes - dataStart);
    this.copy(head.subarray(dataStart));
  }

  private copy(chunk: Uint8Array): void {
    const order = this.header!.inDataOrder;
    let from = 0;
    while (from < chunk.length) {
      const t = order[this.target];
      if (t === undefined) throw malformed('the body runs past the data its header describes');
      let bytes = this.own.get(t);
      if (bytes === undefined) {
        // a buffer of its own (every byte is written)
        bytes = new Uint8Array(ownBuffer(t.end - t.begin));
        this.own.set(t, bytes);
      }
      const n = Math.min(t.end - this.at, chunk.length - from);
      bytes.set(chunk.subarray(from, from + n), this.at - t.begin);
      from += n;
      this.at += n;
      if (this.at === t.end) {
        this.target++;
        // checked now, while the rest of the body is on its way, rather than after it has all come
        const { buffer, byteOffset, byteLength } = bytes;
        const floats = t.dtype === 'F32' ? new Float32Array(buffer, byteOffset, byteLength / 4) : t.dtype === 'F64' ? new Float64Array(buffer, byteOffset, byteLength / 8) : null;
        if (floats !== null) this.nonFinite.set(t, firstNonFinite(floats));
      }
    }
  }

  /** The file, once the whole body is in. */
  end(): SafetensorsFile {
    // fewer bytes than the header needs: the problems of a whole body of this length
    if (this.header === undefined) return readSafetensors(Buffer.concat(this.head));
    const { entries, metadata } = this.header;
    const total = this.bodyBytes - 8 - this.headerLen;
    if (this.at !== total) throw malformed(`the body ended after ${this.at} of its ${total} bytes of data`);
    const tensors = entries.map((e) => new BinaryTensor(e.name, e.dtype, e.shape, this.own.get(e) ?? new Uint8Array(0), this.nonFinite.get(e)));
    return { tensors, metadata };
  }
}

function readMetadata(entry: unknown): Record<string, string> {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw malformed('__metadata__ is not an object', '__metadata__');
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw malformed(`__metadata__.${k} is not a string (safetensors metadata maps strings to strings)`, '__metadata__');
  }
  return entry as Record<string, string>;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function readEntry(name: string, entry: unknown, dataBytes: number) {
  const bad = (message: string) => malformed(`tensor "${name}": ${message}`, name);
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad('its entry is not an object {dtype, shape, data_offsets}');
  const { dtype, shape, data_offsets: offsets, ...rest } = entry as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw bad(`unknown field "${extra[0]}"`);
  if (!isBinaryDType(dtype)) throw bad(`dtype ${JSON.stringify(dtype) ?? 'missing'} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`);
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isIndex)) {
    throw bad(`shape is not a list of at most ${MAX_RANK} non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0]) || !isIndex(offsets[1])) {
    throw bad('data_offsets is not [begin, end]');
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) throw bad(`data_offsets [${begin}, ${end}] are outside the ${dataBytes} bytes of data`);
  const needed = size(shape as number[]) * DTYPE_BYTES[dtype];
  if (end - begin !== needed) {
    throw bad(`holds ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${needed}`);
  }
  return { dtype, shape: shape as number[], begin, end };
}

/**
 * The first key that occurs twice in one object of a JSON text already known to be valid, or null.
 * JSON.parse keeps the last of two equal keys, which would let one tensor's entry silently hide another's.
 */
function firstDuplicateKey(text: string): string | null {
  // per open container: its keys so far (null for an array)
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j++;
        } else if (d === 0x22) break;
      }
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const raw = text.slice(i, j + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
  return null;
}

/**
 * A body tensor as a typed array of `to` on a buffer of its own, validated.
 * NOTE: never a view into a part of a body: the worker recycles the job's whole buffers for the next
 * job's gradients and values (engine/buffers.ts), and views into one body left it allocating afresh for
 * every request, which cost its backward pass far more than a copy costs the event loop. A tensor read
 * onto a buffer of its own (SafetensorsReader) is used as it is. Integers must be exact in `to`
 * (wire/integers.ts), floats finite (422 at the tensor's name). F16 and BF16 widen exactly.
 */
export function binaryData(t: BinaryTensor, to: DType): Data {
  const n = size(t.shape);
  const path: Path = [t.name];
  const src = sourceArray(t, n);
  if (src instanceof BigInt64Array || src instanceof Int32Array) return integerData(src, to, path);
  const bad = t.nonFinite ?? firstNonFinite(src);
  if (bad >= 0) throw new SpecError(path, `element ${bad} is not finite (${src[bad]})`);
  if ((to === 'float32') === src instanceof Float32Array) return src.buffer === t.bytes.buffer && !ownsBuffer(t.bytes) ? src.slice() : src;
  const out = allocData(n, to);
  out.set(src);
  checkFloat32Range(out, () => path, (i) => `element ${i} (${src[i]})`);
  return out;
}

/** A view of a whole buffer (a body read by SafetensorsReader), not of a part of one body. */
const ownsBuffer = (b: Uint8Array): boolean => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;

/** The tensor's elements as the typed array of its dtype (F16 and BF16 widened to Float32Array). */
function sourceArray(t: BinaryTensor, n: number): Float32Array | Float64Array | Int32Array | BigInt64Array {
  const bytes = t.dtype === 'F16' || t.dtype === 'BF16' ? 2 : DTYPE_BYTES[t.dtype];
  // a view when aligned, else a copy on a fresh (aligned) buffer
  const b = t.bytes.byteOffset % bytes === 0 ? t.bytes : new Uint8Array(t.bytes);
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(b.buffer, b.byteOffset, n);
    case 'F64':
      return new Float64Array(b.buffer, b.byteOffset, n);
    case 'I32':
      return new Int32Array(b.buffer, b.byteOffset, n);
    case 'I64':
      return new BigInt64Array(b.buffer, b.byteOffset, n);
    case 'U8':
      // only model/bytes is U8 (wire/safetensors-body.ts), and it is a file, not a tensor of numbers
      throw new SpecError([t.name], 'U8 holds an ONNX file (model/bytes), not numbers');
    case 'BF16': {
      // bfloat16 is the upper half of a float32
      const half = new Uint16Array(b.buffer, b.byteOffset, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = half[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case 'F16': {
      const half = new Uint16Array(b.buffer, b.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = fromHalf(half[i]!);
      return out;
    }
  }
}

/** IEEE-754 binary16 to its value (exact in float32): ±∞ and NaN for exponent 31. */
function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return exp === 0 ? sign * mant * 2 ** -24 : sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * A safetensors file of `tensors` (float32 or float64) and `__metadata__`, as its pieces: the length and
 * the header, padded with spaces so the data starts 8-byte aligned, then a view of each tensor's bytes,
 * back to back in the order given. The pieces are written out as they are: no copy of the data.
 */
export function safetensorsPieces(tensors: [name: string, t: Tensor][], metadata: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.data instanceof Float32Array ? 'F32' : 'F64', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  header.__metadata__ = metadata;
  const text = JSON.stringify(header);
  const textBytes = Buffer.byteLength(text);
  const n = textBytes + ((8 - ((8 + textBytes) % 8)) % 8);
  const head = Buffer.allocUnsafe(8 + n);
  head.writeBigUInt64LE(BigInt(n), 0);
  head.write(text, 8);
  head.fill(0x20, 8 + textBytes);
  return [head, ...tensors.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

/** The same file as one buffer. */
export function writeSafetensors(tensors: [name: string, t: Tensor][], metadata: Record<string, string>): Buffer {
  return Buffer.concat(safetensorsPieces(tensors, metadata));
}
