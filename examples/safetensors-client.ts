// A typed gradserve client on the binary path: safetensors bodies and answers (docs/binary.md).
//
//   const { tensors, json } = await postSafetensors('http://127.0.0.1:3000', '/v1/gradients',
//     { model: { type: 'mlp', inputSize: 784, layers: [{ units: 10 }] }, loss: { type: 'cross_entropy' } },
//     { inputs: f32([256, 784], x), targets: i64([256], labels) });
//   tensors['gradients/layers.0.weight'].data;   // Float32Array
//   json.loss;                                     // number | null
//
// The JSON halves are typed from openapi/openapi.json (examples/api-types.d.ts), so a change of the
// contract breaks this file at compile time. Node 20 or a browser: fetch, typed arrays, no dependency.

import type { paths } from './api-types.js';

export const SAFETENSORS = 'application/vnd.gradserve.safetensors';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Post<P extends keyof paths> = paths[P] extends { post: infer Op } ? Op : never;
type Body<Op> = Op extends { requestBody: infer B } ? Json<B> : never;
type Answer<Op> = Op extends { responses: { 200: infer R } } ? Json<R> : never;

/** The compute routes, which all take and give safetensors. */
export type ComputeRoute = '/v1/gradients' | '/v1/forward' | '/v1/step' | '/v1/train' | '/v1/gradcheck' | '/v1/explain';
export type JsonRequest<P extends ComputeRoute> = Body<Post<P>>;
export type JsonResponse<P extends ComputeRoute> = Answer<Post<P>>;

/** Request fields that may travel as tensors instead (named `inputs`, `params/<name>`, ...). */
type TensorField = 'inputs' | 'targets' | 'outputGrad' | 'params' | 'gradients';
/** The request's `__metadata__.json`: the JSON body, its tensor fields optional. */
export type RequestMetadata<P extends ComputeRoute> = Omit<JsonRequest<P>, TensorField> & Partial<Pick<JsonRequest<P>, TensorField & keyof JsonRequest<P>>>;
/** Answer fields that come as tensors (`gradients/<name>`, ...) and are left out of `__metadata__.json` when all were. */
type AnswerTensorField = 'gradients' | 'params' | 'outputs' | 'inputGradients' | 'intermediates';
/** The answer's `__metadata__.json`: loss, timing, diagnostics, optimizerState.step and the like. */
export type AnswerMetadata<P extends ComputeRoute> = Omit<JsonResponse<P>, AnswerTensorField>;

const DTYPES = { F32: Float32Array, F64: Float64Array, I32: Int32Array, I64: BigInt64Array } as const;
export type DType = keyof typeof DTYPES;
type Data = InstanceType<(typeof DTYPES)[DType]>;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: Data;
}

export const f32 = (shape: number[], data: ArrayLike<number>): Tensor => ({ dtype: 'F32', shape, data: Float32Array.from(data) });
export const f64 = (shape: number[], data: ArrayLike<number>): Tensor => ({ dtype: 'F64', shape, data: Float64Array.from(data) });
export const i64 = (shape: number[], data: ArrayLike<number>): Tensor => ({ dtype: 'I64', shape, data: BigInt64Array.from(Array.from(data, BigInt)) });

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A safetensors file: the header padded with spaces so that the data starts 8-byte aligned. */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string>): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('safetensors are little-endian; this client writes native typed arrays');
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: ${t.data.length} elements for shape [${t.shape}]`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(text.length + ((8 - (text.length % 8)) % 8)).fill(0x20); // ' '
  head.set(text);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** The tensors (copied out, so each is aligned) and the metadata of a safetensors file. */
export function readSafetensors(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const { __metadata__: metadata = {}, ...entries } = header as { __metadata__?: Record<string, string> };
  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of Object.entries(entries as Record<string, { dtype: DType; shape: number[]; data_offsets: [number, number] }>)) {
    const Type = DTYPES[e.dtype];
    if (Type === undefined) throw new Error(`${name}: dtype ${e.dtype} is not one this client reads`);
    const [begin, end] = e.data_offsets;
    const raw = bytes.slice(8 + n + begin, 8 + n + end);
    tensors[name] = { dtype: e.dtype, shape: e.shape, data: new Type(raw.buffer, 0, (end - begin) / Type.BYTES_PER_ELEMENT) };
  }
  return { tensors, metadata };
}

/** A problem+json answer (RFC 9457): `code`, `detail`, and `errors` naming the field or tensor at fault. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { code?: string; detail?: string; errors?: { path: string; message: string }[] },
  ) {
    super(`${status} ${problem.code ?? ''}: ${problem.detail ?? ''}`);
  }
}

/**
 * POSTs the request's JSON (its tensors left out, or some of them kept in a JSON encoding) and its
 * tensors, named by their JSON paths (`inputs`, `params/layers.0.weight`,
 * `optimizer/state/state/layers.0.weight/exp_avg`); gives the answer's tensors (`gradients/<name>`,
 * `params/<name>`, `optimizerState/state/<name>/<buffer>`, `outputs`) and the rest of its JSON.
 */
export async function postSafetensors<P extends ComputeRoute>(
  base: string,
  route: P,
  json: RequestMetadata<P>,
  tensors: Record<string, Tensor>,
  options: { apiKey?: string; fetch?: typeof fetch } = {},
): Promise<{ tensors: Record<string, Tensor>; json: AnswerMetadata<P> }> {
  const headers: Record<string, string> = { 'content-type': SAFETENSORS, accept: SAFETENSORS };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  const res = await (options.fetch ?? fetch)(new URL(route, base), {
    method: 'POST',
    headers,
    body: writeSafetensors(tensors, { json: JSON.stringify(json) }),
  });
  if (!res.ok) throw new ProblemError(res.status, (await res.json()) as ProblemError['problem']);
  const answer = readSafetensors(new Uint8Array(await res.arrayBuffer()));
  return { tensors: answer.tensors, json: JSON.parse(answer.metadata.json ?? '{}') as AnswerMetadata<P> };
}

/** An optimizer's `state` as a request sends it back. */
export type OptimizerState = NonNullable<NonNullable<JsonRequest<'/v1/gradients'>['optimizer']>['state']>;

/**
 * The optimizer state of an answer as the next request sends it: its buffers' tensors renamed from
 * `optimizerState/state/<param>/<buffer>` to `optimizer/state/state/<param>/<buffer>`, and the steps
 * (the JSON's `optimizerState`) for `optimizer.state`.
 */
export function nextOptimizerState(answer: { tensors: Record<string, Tensor>; json: { optimizerState?: unknown } }): {
  tensors: Record<string, Tensor>;
  state: OptimizerState | undefined;
} {
  const tensors = Object.fromEntries(
    Object.entries(answer.tensors)
      .filter(([name]) => name.startsWith('optimizerState/'))
      .map(([name, t]) => [`optimizer/state/${name.slice('optimizerState/'.length)}`, t]),
  );
  // only steps are left in the JSON: the answer's type allows null tensors, which its binary form has none of
  return { tensors, state: answer.json.optimizerState as OptimizerState | undefined };
}
