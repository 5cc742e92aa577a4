// Data-parallel training over several gradserve replicas.
//
// With `loss.reduction = "sum"` the loss of a batch is the sum of the losses of its rows, so the
// gradient of the whole batch is the sum of the gradients of any split of it into shards. Each
// replica computes one shard's gradients; the client adds them up and asks one replica for the
// optimizer step (POST /v1/step), which also clips the *summed* gradients when asked to. A training
// loop that uses it is in README.md ("From TypeScript"); test/examples/readme.test.ts runs it.
//
// Types come from openapi/openapi.json (`npx openapi-typescript openapi/openapi.json -o
// examples/api-types.d.ts`), so a change of the contract breaks this file at compile time.

import type { paths } from './api-types.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Post<P extends keyof paths> = paths[P] extends { post: infer Op } ? Op : never;

export type GradientsRequest = Json<Post<'/v1/gradients'>['requestBody']>;
export type GradientsResponse = Json<Post<'/v1/gradients'>['responses'][200]>;
export type StepRequest = Json<Post<'/v1/step'>['requestBody']>;
export type StepResponse = Json<Post<'/v1/step'>['responses'][200]>;
export type Optimizer = StepRequest['optimizer'];
export type Params = NonNullable<GradientsRequest['params']>;
export type OptimizerState = NonNullable<Optimizer['state']>;

/** The `{shape, data}` encoding, which this client asks for in responses so it can add them up. */
export interface FlatTensor {
  shape: number[];
  data: number[];
}

export interface DataParallelOptions {
  /** number of shards (default: one per replica; more than replicas = several per replica) */
  shards?: number;
  /**
   * multiplies the summed gradients (and loss) before the step: 1 (default) for a summed loss; for a
   * mean loss over the whole batch, 1 / (the number of terms the mean divides by: the batch size
   * for cross_entropy and nll, batch × outputs for mse, l1, huber, bce)
   */
  scale?: number;
  /** clip the global norm of the summed, scaled gradients (torch.nn.utils.clip_grad_norm_) */
  clipGradNorm?: number;
  /** bearer token, when the replicas have API_KEYS */
  apiKey?: string;
  fetch?: typeof fetch;
}

export interface DataParallelResult {
  /** the scaled sum of the shard losses: the loss of the whole batch */
  loss: number;
  /** the scaled sum of the shard gradients, before clipping */
  gradients: Record<string, FlatTensor>;
  /** ready to send back as `params` */
  params: Params;
  /** ready to send back as `optimizer.state` */
  optimizerState: OptimizerState;
}

export class ReplicaError extends Error {
  override name = 'ReplicaError';
  constructor(
    readonly url: string,
    readonly status: number,
    readonly problem: unknown,
  ) {
    super(`${url}: ${status} ${JSON.stringify(problem)}`);
  }
}

/** POSTs JSON; a 503 (queue full, shutting down) or an unreachable replica moves on to the next one. */
async function post<T>(replicas: string[], first: number, path: string, body: unknown, o: DataParallelOptions): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  const payload = JSON.stringify(body);
  let last: unknown;
  for (let k = 0; k < replicas.length; k++) {
    const url = `${replicas[(first + k) % replicas.length]!.replace(/\/$/, '')}${path}`;
    let res: Response;
    try {
      res = await (o.fetch ?? fetch)(url, { method: 'POST', headers, body: payload });
    } catch (err) {
      last = err;
      continue;
    }
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as T;
    last = new ReplicaError(url, res.status, text.startsWith('{') ? JSON.parse(text) : text);
    // Every other error (400, 413, 422, 504 ...) would be the same on any replica.
    if (res.status !== 503) break;
  }
  throw last;
}

const isFlat = (t: unknown): t is FlatTensor =>
  t !== null && typeof t === 'object' && !Array.isArray(t) && 'data' in t && 'shape' in t;

/** Rows [start, end) of a batch tensor (nested arrays or {shape, data}; base64 is not split here). */
export function sliceRows(t: unknown, start: number, end: number): unknown {
  if (Array.isArray(t)) return t.slice(start, end);
  if (isFlat(t)) {
    const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
    return { shape: [end - start, ...t.shape.slice(1)], data: t.data.slice(start * row, end * row) };
  }
  throw new TypeError('a batch tensor must be nested arrays or {shape, data} to be split into shards');
}

const rows = (t: unknown): number => {
  if (Array.isArray(t)) return t.length;
  if (isFlat(t) && t.shape.length > 0) return t.shape[0]!;
  throw new TypeError('a batch tensor must have a leading batch axis');
};

/**
 * The request for rows [start, end): an MLP's `inputs`, every tensor of a graph's `inputs` map,
 * `targets` and `outputGrad` are cut along their first axis.
 */
export function shardRequest(request: GradientsRequest, start: number, end: number): GradientsRequest {
  const inputs = request.inputs as unknown;
  const sliced =
    Array.isArray(inputs) || isFlat(inputs)
      ? sliceRows(inputs, start, end)
      : Object.fromEntries(Object.entries(inputs as Record<string, unknown>).map(([k, v]) => [k, sliceRows(v, start, end)]));
  const shard = { ...request, inputs: sliced } as GradientsRequest;
  if (request.targets !== undefined) shard.targets = sliceRows(request.targets, start, end) as GradientsRequest['targets'];
  if (request.outputGrad !== undefined) shard.outputGrad = sliceRows(request.outputGrad, start, end) as GradientsRequest['outputGrad'];
  return shard;
}

function batchSize(request: GradientsRequest): number {
  const inputs = request.inputs as unknown;
  if (Array.isArray(inputs) || isFlat(inputs)) return rows(inputs);
  const sizes = Object.values(inputs as Record<string, unknown>).map(rows);
  if (sizes.length === 0 || sizes.some((n) => n !== sizes[0])) throw new TypeError('graph inputs must share one batch size');
  return sizes[0]!;
}

/**
 * A response's tensors as request tensors. Responses write a non-finite element as null, which no
 * request accepts: the step diverged, and sending it on would only fail later.
 */
function finite<T>(what: string, value: unknown): T {
  JSON.stringify(value, (key, v: unknown) => {
    if (v === null) throw new RangeError(`${what}: non-finite value at "${key}" (the optimization diverged)`);
    return v;
  });
  return value as T;
}

/** Adds `b` into `acc` (same names, same shapes), scaled. */
function accumulate(acc: Record<string, FlatTensor>, b: Record<string, unknown>, scale: number): void {
  for (const [name, t] of Object.entries(b)) {
    if (!isFlat(t)) throw new TypeError(`gradient ${name} is not in the flat encoding`);
    const into = (acc[name] ??= { shape: t.shape, data: new Array<number>(t.data.length).fill(0) });
    if (into.data.length !== t.data.length) throw new Error(`gradient ${name}: shards disagree on its shape`);
    for (let i = 0; i < t.data.length; i++) into.data[i]! += scale * t.data[i]!;
  }
}

/**
 * One optimizer step on a batch spread over `replicas` (base URLs): gradients of each shard on its own
 * replica, summed here, then one POST /v1/step. `request.loss.reduction` must be "sum" (for a graph
 * whose output is the loss, its loss node must sum); use `scale` for a mean over the whole batch.
 */
export async function dataParallelStep(
  replicas: string[],
  request: GradientsRequest,
  optimizer: Optimizer,
  options: DataParallelOptions = {},
): Promise<DataParallelResult> {
  if (replicas.length === 0) throw new RangeError('no replicas');
  if (request.loss !== undefined && request.loss.reduction !== 'sum') {
    // NOTE: the mean of shard means is not the batch mean when shards differ in size; sums always add up.
    throw new RangeError('data parallelism needs loss.reduction = "sum" (pass options.scale for a mean)');
  }
  if (request.optimizer !== undefined) throw new RangeError('give the optimizer as the third argument: it runs once, on the sum');
  const n = batchSize(request);
  const shards = Math.max(1, Math.min(options.shards ?? replicas.length, n));
  const scale = options.scale ?? 1;
  const responseOptions = { ...request.options, encoding: 'flat' as const };

  const bounds = Array.from({ length: shards }, (_, k) => [Math.floor((k * n) / shards), Math.floor(((k + 1) * n) / shards)] as const);
  const results = await Promise.all(
    bounds.map(([start, end], k) =>
      post<GradientsResponse>(replicas, k, '/v1/gradients', { ...shardRequest(request, start, end), options: responseOptions }, options),
    ),
  );

  const gradients: Record<string, FlatTensor> = {};
  let loss = 0;
  for (const r of results) {
    accumulate(gradients, r.gradients as Record<string, unknown>, scale);
    loss += scale * (r.loss ?? Number.NaN);
  }
  // Parameters the request left out were initialized from their seed, identically on every replica.
  const params = { ...(results[0]!.params ?? {}), ...(request.params ?? {}) } as StepRequest['params'];

  const step: StepRequest = {
    params,
    gradients,
    optimizer,
    options: { dtype: request.options?.dtype ?? 'float32', encoding: request.options?.encoding ?? 'nested' },
  };
  if (options.clipGradNorm !== undefined) step.clipGradNorm = options.clipGradNorm;
  const stepped = await post<StepResponse>(replicas, 0, '/v1/step', step, options);
  return {
    loss,
    gradients,
    params: finite<Params>('params', stepped.params),
    optimizerState: finite<OptimizerState>('optimizerState', stepped.optimizerState),
  };
}
