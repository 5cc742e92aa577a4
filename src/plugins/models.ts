import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';
import type { ModelSummary } from '../engine/check-model.js';
import { Lru } from '../engine/lru.js';
import type { ModelSpec } from '../engine/spec.js';

// The models this replica knows, by content address: registered ones (POST /v1/models) and inline
// specs seen before. A request by reference, or repeating an inline spec, takes the validated spec
// from here instead of running the schema over it again. Bounded (MODEL_CACHE_ENTRIES,
// MODEL_CACHE_MB); a client whose model was evicted, or whose replica restarted, gets 404
// MODEL_NOT_FOUND and registers it again (docs/models.md).

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRegistry;
  }
}

/** A model validated and checked once: what a request by its id runs. */
export class KnownModel {
  constructor(
    /** `sha256:<hex>` of `canonical` */
    readonly id: string,
    /** the spec as the client sent it, keys sorted, no whitespace */
    readonly canonical: string,
    /** the spec as the schema returned it (defaults filled in) */
    readonly spec: ModelSpec,
    readonly summary: ModelSummary,
  ) {}

  /** a worker has computed a job carrying the spec: later jobs go without it (routes/shared/models.ts) */
  sent = false;

  /** what it holds, as the cache reckons it: the canonical text and the parsed spec beside it */
  get bytes(): number {
    return 3 * this.canonical.length;
  }
}

export const MODEL_ID = /^sha256:[0-9a-f]{64}$/;

/**
 * JSON with every object's keys sorted and no whitespace: one text per spec, however it was written.
 * undefined for a value too deep to walk (the schema rejects those anyway).
 */
export function canonicalJson(value: unknown): string | undefined {
  try {
    return canon(value);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i === 0 ? '' : ',') + canon(v[i]);
    return s + ']';
  }
  const obj = v as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(key) + ':' + canon(obj[key]);
    first = false;
  }
  return s + '}';
}

export const modelId = (canonical: string): string => `sha256:${createHash('sha256').update(canonical).digest('hex')}`;

export class ModelRegistry {
  private readonly lru: Lru<string, KnownModel>;

  constructor(maxEntries: number, maxBytes: number) {
    this.lru = new Lru(maxEntries, maxBytes);
  }

  /** The model, now the most recently used; a miss counts as one. */
  get(id: string): KnownModel | undefined {
    return this.lru.get(id);
  }

  /** The model without counting a hit or a miss (GET /v1/models/{id}). */
  peek(id: string): KnownModel | undefined {
    return this.lru.peek(id);
  }

  /** Keeps `model` (false when it alone is over the byte bound). */
  add(model: KnownModel): boolean {
    return this.lru.set(model.id, model, model.bytes);
  }

  delete(id: string): boolean {
    return this.lru.delete(id) !== undefined;
  }

  get counts() {
    return this.lru.counts;
  }

  get sizes() {
    return { entries: this.lru.size, bytes: this.lru.bytes, maxEntries: this.lru.maxEntries, maxBytes: this.lru.maxBytes };
  }
}

async function modelsPlugin(app: FastifyInstance, { config }: { config: AppConfig }): Promise<void> {
  app.decorate('models', new ModelRegistry(config.modelCacheEntries, config.modelCacheBytes));
}

export default fp(modelsPlugin, { name: 'gradserve-models' });
