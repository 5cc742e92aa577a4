import { z } from 'zod';
import { MalformedError, overLimit, SpecError, type Path } from '../engine/errors.js';
import { describeValue, TYPE_CHECK } from '../engine/zod-messages.js';
import { allocData, BEYOND_FLOAT32, firstNonFinite, size, type Data, type DType, type Shape, type Tensor } from '../engine/tensor.js';
import { float32Number, FLOAT32_TEXT_BYTES, writeFloat32 } from '../engine/float32-text.js';
import { checkFloat32Range, integerData } from './integers.js';
import { BinaryTensor, binaryData } from './safetensors.js';
import { ownBuffer } from './ownership.js';

// The three JSON encodings of a tensor (docs/api.md "Tensors"). The zod schemas only check the outer form
// cheaply; `decodeTensor` validates the contents iteratively (no recursion: a client may nest arrays
// thousands deep) and reports the exact path of a bad element.

const MAX_RANK = 8;

/** The element types of base64 bytes: the computation's floats, or integers (class indices, token ids). */
export const WireDTypeSchema = z
  .enum(['float32', 'float64', 'int32', 'int64'])
  .describe('element type of the bytes: IEEE-754 floats, or little-endian two\'s-complement integers (class indices, token ids; converted exactly to options.dtype)');
export type WireDType = z.infer<typeof WireDTypeSchema>;
export const EncodingSchema = z
  .enum(['nested', 'flat', 'base64'])
  .describe('how tensors are written: nested arrays, {shape, data}, or {shape, dtype, base64}');
export type Encoding = z.infer<typeof EncodingSchema>;

const ShapeSchema = z
  .array(z.number().int().min(0).max(2 ** 31 - 1))
  .max(MAX_RANK)
  .describe('dimensions, outermost first (row-major); [] is a scalar');

// Any number: 1e999 parses as Infinity, which decodeTensor refuses with a 422 at the tensor, as inside
// arrays; z.number() would refuse it with a 400 that does not say why.
const ScalarSchema = z.custom<number>((v) => typeof v === 'number', { params: TYPE_CHECK }).meta({ type: 'number' });

export const NestedTensorSchema = z
  .union([ScalarSchema, z.array(z.any())])
  .describe('a number (scalar) or rectangular nested arrays of numbers, e.g. [[1, 2], [3, 4]]')
  .meta({ examples: [[[1, 2], [3, 4]]] });

// An array, documented as an array of numbers. Its elements are checked once, by decodeTensor, as
// nested arrays' are: z.array(z.number()) would make a second, slow pass over every element.
const FlatDataSchema = z
  .custom<number[]>((v) => Array.isArray(v), { message: 'expected an array of numbers' })
  .meta({ type: 'array', items: { type: 'number' }, description: 'the elements in row-major order; length = product of shape' });

export const FlatTensorSchema = z
  .strictObject({
    shape: ShapeSchema,
    data: FlatDataSchema,
  })
  .describe('flat encoding: {"shape": [2, 2], "data": [1, 2, 3, 4]}');

export const Base64TensorSchema = z
  .strictObject({
    shape: ShapeSchema,
    dtype: WireDTypeSchema,
    base64: z.string().describe('little-endian bytes of the elements in row-major order, base64-encoded'),
  })
  .describe('base64 encoding for large tensors: {"shape": [2, 2], "dtype": "float32", "base64": "..."}');

export const TensorSchema = z
  .union([NestedTensorSchema, FlatTensorSchema, Base64TensorSchema])
  .describe('a tensor: nested arrays, {shape, data}, or {shape, dtype, base64}');

export type NestedTensor = number | NestedTensor[];
export type FlatTensor = z.infer<typeof FlatTensorSchema>;
export type Base64Tensor = z.infer<typeof Base64TensorSchema>;
export type WireTensor = NestedTensor | FlatTensor | Base64Tensor;

const BYTES: Record<WireDType, number> = { float32: 4, float64: 8, int32: 4, int64: 8 };

const EQUALS = 0x3d;

/** The bytes base64 text of this length and padding decodes to (a string, or the text's bytes). */
function base64Bytes(s: string | Uint8Array): number {
  const n = s.length;
  const padAt = (i: number) => (typeof s === 'string' ? s.charCodeAt(i) : s[i]) === EQUALS;
  const pad = n >= 2 && padAt(n - 1) && padAt(n - 2) ? 2 : n >= 1 && padAt(n - 1) ? 1 : 0;
  return Math.floor((n * 3) / 4) - pad;
}

/**
 * A base64 value decoded ahead, as a server read it from a request body's bytes (wire/json-body.ts):
 * its bytes, as many as its length says, and whether every character was base64. decodeTensor checks
 * them against the tensor's shape and dtype as it would the text, and takes the bytes without a copy.
 */
export class DecodedBase64 {
  private taken = false;

  constructor(
    private readonly bytes: ArrayBuffer,
    readonly valid: boolean,
  ) {}

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /** The bytes as base64 text again (the model cache hashes a spec with its constants' content). */
  text(): string {
    return Buffer.from(this.bytes).toString('base64');
  }

  /** The bytes: the first time as they are, a copy after that (a wire value may be decoded twice). */
  take(): ArrayBuffer {
    if (this.taken) return this.bytes.slice(0);
    this.taken = true;
    return this.bytes;
  }
}

/**
 * Base64 text read this many characters at a time (a multiple of 4): each piece becomes a small
 * string, where one string of the whole text would be megabytes, copied and collected.
 */
const DECODE_CHARS = 65536;

/** Decodes base64 text given as its bytes (ASCII). */
export function decodeBase64Text(text: Uint8Array): DecodedBase64 {
  const bytes = Math.max(0, base64Bytes(text));
  const out = Buffer.from(ownBuffer(bytes));
  const src = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let written = 0;
  for (let i = 0; i < src.length && written < bytes; i += DECODE_CHARS) {
    written += out.write(src.toString('latin1', i, Math.min(i + DECODE_CHARS, src.length)), written, 'base64');
  }
  return new DecodedBase64(out.buffer, written === bytes);
}

/**
 * The shape a wire tensor declares, found without allocating its elements; also checks that nested
 * arrays are rectangular (iteratively, along the first element of each level, then fully in decode).
 */
export function wireShape(wire: unknown, path: Path): Shape {
  if (typeof wire === 'number') return [];
  if (wire instanceof BinaryTensor) return wire.shape;
  if (Array.isArray(wire)) {
    const shape: number[] = [];
    let level: unknown = wire;
    while (Array.isArray(level)) {
      if (shape.length >= MAX_RANK) throw new SpecError(path, `nested arrays deeper than rank ${MAX_RANK}`);
      shape.push(level.length);
      if (level.length === 0) break;
      level = level[0];
    }
    return shape;
  }
  if (wire !== null && typeof wire === 'object' && 'shape' in wire) {
    return (wire as { shape: number[] }).shape;
  }
  throw new MalformedError(path, `expected a tensor (a number, nested arrays, {shape, data} or {shape, dtype, base64}), got ${describeValue(wire)}`);
}

/** Element count a wire tensor declares, with a limit checked before anything is allocated. */
export function wireElements(wire: unknown, path: Path, maxElements = Infinity): number {
  const n = size(wireShape(wire, path));
  if (n > maxElements) {
    throw overLimit(path, `the tensor has ${n} elements`, maxElements, 'MAX_ELEMENTS');
  }
  return n;
}

/** Decodes a wire tensor into a fresh typed array of `dtype`, validating every element. */
export function decodeTensor(wire: unknown, dtype: DType, path: Path, maxElements = Infinity): Tensor {
  const shape = wireShape(wire, path);
  const n = wireElements(wire, path, maxElements);
  if (wire instanceof BinaryTensor) return { shape: [...shape], data: binaryData(wire, dtype) };
  if (typeof wire === 'number' || Array.isArray(wire)) {
    return { shape, data: decodeNested(wire, shape, dtype, path) };
  }
  const obj = wire as Partial<FlatTensor & Base64Tensor>;
  if (Array.isArray(obj.data)) {
    if (obj.data.length !== n) {
      throw new SpecError([...path, 'data'], `has ${obj.data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
    }
    const data = allocData(n, dtype);
    for (let i = 0; i < n; i++) {
      const v = obj.data[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw notFinite([...path, 'data', i], v);
      data[i] = v;
      if (!Number.isFinite(data[i]!)) throw beyondFloat32([...path, 'data', i], v);
    }
    return { shape, data };
  }
  const b64: unknown = obj.base64;
  if ((typeof b64 === 'string' || b64 instanceof DecodedBase64) && typeof obj.dtype === 'string' && Object.hasOwn(BYTES, obj.dtype)) {
    return { shape, data: decodeBase64(b64, obj.dtype, n, dtype, [...path, 'base64']) };
  }
  throw new MalformedError(path, 'expected a tensor: {shape, data} or {shape, dtype, base64}');
}

/** A finite number that the float32 it was stored in holds as ±Infinity: refused as a non-finite one is (422). */
const beyondFloat32 = (path: Path, v: number): SpecError => new SpecError(path, `${v} ${BEYOND_FLOAT32}`);

/** A bad element: not a number is a schema violation (400); a number that is not finite, 422. */
function notFinite(path: Path, v: unknown): SpecError {
  return typeof v === 'number' ? new SpecError(path, `not a finite number: ${v}`) : new MalformedError(path, `expected a number, got ${describeValue(v)}`);
}

function decodeNested(wire: NestedTensor, shape: Shape, dtype: DType, path: Path): Data {
  const data = allocData(size(shape), dtype);
  if (typeof wire === 'number') {
    if (!Number.isFinite(wire)) throw new SpecError(path, `not a finite number: ${wire}`);
    data[0] = wire;
    if (!Number.isFinite(data[0]!)) throw beyondFloat32(path, wire);
    return data;
  }
  // Iterative depth-first walk; `stack` holds [array, depth, index-path].
  let o = 0;
  const stack: { arr: unknown[]; depth: number; at: number[] }[] = [{ arr: wire, depth: 0, at: [] }];
  while (stack.length > 0) {
    const { arr, depth, at } = stack.pop()!;
    if (arr.length !== shape[depth]) {
      throw new SpecError([...path, ...at], `ragged array: length ${arr.length}, expected ${shape[depth]}`);
    }
    if (depth === shape.length - 1) {
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw notFinite([...path, ...at, i], v);
        data[o] = v;
        if (!Number.isFinite(data[o++]!)) throw beyondFloat32([...path, ...at, i], v);
      }
    } else {
      for (let i = arr.length - 1; i >= 0; i--) {
        const child = arr[i];
        if (!Array.isArray(child)) {
          throw new MalformedError([...path, ...at, i], `ragged array: expected an array of length ${shape[depth + 1]}, got ${describeValue(child)}`);
        }
        stack.push({ arr: child, depth: depth + 1, at: [...at, i] });
      }
    }
  }
  return data;
}

function decodeBase64(b64: string | DecodedBase64, from: WireDType, n: number, to: DType, path: Path): Data {
  const bytes = n * BYTES[from];
  const got = typeof b64 === 'string' ? base64Bytes(b64) : b64.byteLength;
  if (got !== bytes) throw new SpecError(path, `decodes to ${got} bytes, but ${n} ${from} elements need ${bytes}`);
  let raw: ArrayBuffer;
  if (typeof b64 === 'string') {
    // Decode straight into the typed array's memory: no intermediate Buffer.
    raw = new ArrayBuffer(bytes);
    if (Buffer.from(raw).write(b64, 'base64') !== bytes) throw new SpecError(path, 'is not valid base64');
  } else {
    if (!b64.valid) throw new SpecError(path, 'is not valid base64');
    raw = b64.take();
  }
  if (from === 'int32' || from === 'int64') return integerData(from === 'int32' ? new Int32Array(raw) : new BigInt64Array(raw), to, path);
  const src: Data = from === 'float32' ? new Float32Array(raw) : new Float64Array(raw);
  const bad = firstNonFinite(src);
  if (bad >= 0) throw new SpecError(path, `element ${bad} is not finite (${src[bad]})`);
  if (from === to) return src;
  const data = allocData(n, to);
  data.set(src);
  checkFloat32Range(data, () => path, (i) => `element ${i} (${src[i]})`);
  return data;
}

/**
 * A tensor's bytes, to be written as base64 when its answer is: JSON.stringify writes the text
 * (toJSON), and an answer's writer may encode it straight into its own buffer instead (writeInto,
 * wire/json-body.ts), with no string of megabytes made and collected on the way.
 */
export class EncodedBase64 {
  constructor(readonly bytes: Buffer) {}

  /** characters of the text */
  get length(): number {
    return 4 * Math.ceil(this.bytes.length / 3);
  }

  toJSON(): string {
    return this.bytes.toString('base64');
  }

  toString(): string {
    return this.toJSON();
  }

  /** Writes the text (ASCII) into `out` at byte `at`; the bytes written, `length`. */
  writeInto(out: Buffer, at: number): number {
    const b = this.bytes;
    let o = at;
    // pieces of a multiple of 3 bytes encode without padding, so their texts join into the whole's
    for (let i = 0; i < b.length; i += ENCODE_BYTES) o += out.write(b.toString('base64', i, Math.min(i + ENCODE_BYTES, b.length)), o, 'latin1');
    return o - at;
  }
}

/** Bytes encoded at a time by writeInto: 64 KiB of text, a young string each. */
const ENCODE_BYTES = 49152;

/**
 * A float32 tensor's elements as JSON numbers, nested arrays or (rank 1) a flat `data` array, each the
 * shortest decimal that reads back as the same float32 (engine/float32-text.ts). An answer's writer prints
 * them straight into its buffer (writeInto, wire/json-body.ts); JSON.stringify (toJSON) gets numbers
 * that it prints as the same text.
 */
export class Float32Json {
  constructor(
    private readonly data: Float32Array,
    private readonly shape: Shape,
  ) {}

  /** The most bytes writeInto may write: every element at its longest, a comma, and every array's brackets and comma. */
  get maxBytes(): number {
    let arrays = 0;
    for (let d = 0, outer = 1; d < this.shape.length; outer *= this.shape[d]!, d++) arrays += outer;
    return this.data.length * (FLOAT32_TEXT_BYTES + 1) + arrays * 3 + FLOAT32_TEXT_BYTES;
  }

  toJSON(): NestedTensor {
    const numbers = Array.from(this.data, (v) => (Number.isFinite(v) ? float32Number(v) : v));
    return nest(numbers, this.shape);
  }

  /** Writes the JSON text into `out` at byte `at`; the bytes written. */
  writeInto(out: Buffer, at: number): number {
    const { data, shape } = this;
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    if (shape.length === 0) return writeFloat32(out, at, bits[0]!) - at;
    const strides = shape.map((_, d) => size(shape.slice(d + 1)));
    let o = at;
    // one array: its elements, or the arrays one level down; depth ≤ the maximum rank
    const array = (depth: number, offset: number): void => {
      out[o++] = 0x5b; // '['
      const n = shape[depth]!;
      const inner = depth === shape.length - 1;
      for (let i = 0; i < n; i++) {
        if (i > 0) out[o++] = 0x2c; // ','
        if (inner) o = writeFloat32(out, o, bits[offset + i]!);
        else array(depth + 1, offset + i * strides[depth]!);
      }
      out[o++] = 0x5d; // ']'
    };
    array(0, 0);
    return o - at;
  }
}

/** A tensor as an answer writes it. */
export type ResultWireTensor =
  | NestedTensor
  | Float32Json
  | FlatTensor
  | { shape: number[]; data: Float32Json }
  | { shape: number[]; dtype: DType; base64: EncodedBase64 };

/** Tensors of at most this many float32 elements are answered as plain numbers (Float32Json.toJSON's). */
const FEW_ELEMENTS = 16;

/** Writes a tensor in the requested encoding. */
export function encodeTensor(t: Tensor, encoding: Encoding): ResultWireTensor {
  const d = t.data;
  if (encoding === 'base64') {
    return {
      shape: [...t.shape],
      dtype: d instanceof Float32Array ? 'float32' : 'float64',
      base64: new EncodedBase64(Buffer.from(d.buffer, d.byteOffset, d.byteLength)),
    };
  }
  if (d instanceof Float32Array) {
    // a few numbers are cheaper as numbers than as an object every later step of the answer looks into
    const few = d.length <= FEW_ELEMENTS;
    if (encoding === 'flat') {
      const json = new Float32Json(d, [d.length]);
      return few ? { shape: [...t.shape], data: json.toJSON() as number[] } : { shape: [...t.shape], data: json };
    }
    const json = new Float32Json(d, [...t.shape]);
    return few ? json.toJSON() : json;
  }
  const data = Array.from(d);
  if (encoding === 'flat') return { shape: [...t.shape], data };
  return nest(data, t.shape);
}

function nest(data: number[], shape: Shape): NestedTensor {
  if (shape.length === 0) return data[0]!;
  let level: NestedTensor[] = data;
  for (let d = shape.length - 1; d >= 1; d--) {
    const w = shape[d]!;
    const groups = size(shape.slice(0, d));
    level = Array.from({ length: groups }, (_, g) => level.slice(g * w, (g + 1) * w));
  }
  return level;
}
