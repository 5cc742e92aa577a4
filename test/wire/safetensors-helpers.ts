// Safetensors files built and read by hand (not by src/wire/safetensors.ts), so the tests check the
// codec against the format rather than against itself.

export const SAFETENSORS = 'application/vnd.gradserve.safetensors';

export type StDType = 'F32' | 'F64' | 'I64' | 'I32' | 'F16' | 'BF16' | string;

export interface RawTensor {
  dtype: StDType;
  shape: number[];
  /** the bytes; or numbers, written in `dtype` (F32, F64, I32, I64) */
  values: number[] | Uint8Array;
}

export function bytesOf(dtype: StDType, values: number[] | Uint8Array): Uint8Array {
  if (values instanceof Uint8Array) return values;
  const arr =
    dtype === 'F64' ? new Float64Array(values)
    : dtype === 'I64' ? BigInt64Array.from(values.map((v) => BigInt(v)))
    : dtype === 'I32' ? new Int32Array(values)
    : new Float32Array(values);
  return new Uint8Array(arr.buffer);
}

/** A safetensors file: header padded to 8 bytes (unless `pad` is false), tensors in the order given. */
export function safetensors(tensors: Record<string, RawTensor>, json?: unknown, opts: { pad?: boolean; extraMeta?: Record<string, string> } = {}): Buffer {
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const b = bytesOf(t.dtype, t.values);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + b.length] };
    parts.push(b);
    at += b.length;
  }
  const meta: Record<string, string> = { ...opts.extraMeta };
  if (json !== undefined) meta.json = JSON.stringify(json);
  header.__metadata__ = meta;
  return file(JSON.stringify(header), Buffer.concat(parts), opts.pad ?? true);
}

/** header text + data, with the 8-byte length (and space padding to 8 when `pad`). */
export function file(headerText: string, data: Uint8Array, pad = true): Buffer {
  let text = Buffer.from(headerText);
  if (pad && (8 + text.length) % 8 !== 0) text = Buffer.concat([text, Buffer.alloc(8 - ((8 + text.length) % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([len, text, data]);
}

export interface ReadFile {
  meta: Record<string, string>;
  json: any;
  tensors: Record<string, { dtype: string; shape: number[]; data: Float32Array | Float64Array }>;
  /** where the data starts, from the start of the file */
  dataStart: number;
}

export function readFile(buf: Buffer): ReadFile {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const dataStart = 8 + n;
  const tensors: ReadFile['tensors'] = {};
  for (const [name, e] of Object.entries<any>(header)) {
    if (name === '__metadata__') continue;
    const [b, end] = e.data_offsets;
    const copy = new Uint8Array(buf.subarray(dataStart + b, dataStart + end)).buffer;
    tensors[name] = { dtype: e.dtype, shape: e.shape, data: e.dtype === 'F64' ? new Float64Array(copy) : new Float32Array(copy) };
  }
  const meta = header.__metadata__ ?? {};
  return { meta, json: meta.json === undefined ? undefined : JSON.parse(meta.json), tensors, dataStart };
}
