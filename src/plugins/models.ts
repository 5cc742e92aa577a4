import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { primary } from '../cluster.js';
import type { AppConfig } from '../config.js';
import type { ModelSummary } from '../engine/check-model.js';
import { Lru } from '../engine/lru.js';
import type { ModelSpec } from '../wire/spec.js';

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

  /** the text of an inline spec that named it, as its client wrote it (or JSON.stringify, routes/shared/models.ts): found again without hashing */
  text?: string;

  /** what it holds, as the cache reckons it: the canonical text and the parsed spec beside it */
  get bytes(): number {
    return 3 * this.canonical.length + (this.text?.length ?? 0);
  }
}

export const MODEL_ID = /^sha256:[0-9a-f]{64}$/;

/**
 * JSON with every object's keys sorted and no whitespace: one text per spec, however it was written.
 * undefined for a value too deep to walk (the schema rejects those anyway). `restore` gives the text a
 * placeholder string stands for (a lifted base64 value: wire/json-body.ts liftedText).
 */
export function canonicalJson(value: unknown, restore?: (s: string) => string | undefined): string | undefined {
  try {
    return canon(value, restore);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function canon(v: unknown, restore: ((s: string) => string | undefined) | undefined): string {
  if (v === null || typeof v !== 'object') return JSON.stringify((typeof v === 'string' && restore?.(v)) || v) ?? 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i === 0 ? '' : ',') + canon(v[i], restore);
    return s + ']';
  }
  const obj = v as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(key) + ':' + canon(obj[key], restore);
    first = false;
  }
  return s + '}';
}

export const modelId = (canonical: string): string => `sha256:${createHash('sha256').update(canonical).digest('hex')}`;

/** JSON.stringify of a parsed body's value; undefined for one too deep to walk. */
export function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/** Where the processes of one replica keep the models registered in any of them (cluster.ts). */
export interface SharedModels {
  put(id: string, canonical: string): Promise<void>;
  /** the canonical text, or null */
  get(id: string): Promise<string | null>;
  /** forgets it in every process; whether it was held */
  delete(id: string): Promise<boolean>;
}

export class ModelRegistry {
  private readonly lru: Lru<string, KnownModel>;
  /** the other processes' models, when this process is one of several (PROCESSES > 1) */
  shared: SharedModels | null = null;
  /** known models by the text of an inline spec (KnownModel.text): a client repeating its spec writes it alike */
  private readonly byText = new Map<string, KnownModel>();

  constructor(maxEntries: number, maxBytes: number) {
    this.lru = new Lru(maxEntries, maxBytes);
    this.lru.onEvict = (_id, model) => this.forgetText(model);
  }

  private forgetText(model: KnownModel): void {
    if (model.text !== undefined && this.byText.get(model.text) === model) this.byText.delete(model.text);
  }

  /** The model an inline spec of this text named before, now the most recently used; a hit when found. */
  getByText(text: string): KnownModel | undefined {
    const model = this.byText.get(text);
    return model === undefined ? undefined : this.lru.get(model.id);
  }

  /** Finds `model` by `text` from now on (one text per model: the last one seen). */
  addText(model: KnownModel, text: string): void {
    if (this.lru.peek(model.id) !== model) return;
    this.forgetText(model);
    model.text = text;
    this.byText.set(text, model);
    if (!this.lru.set(model.id, model, model.bytes)) this.forgetText(model);
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
    const model = this.lru.delete(id);
    if (model !== undefined) this.forgetText(model);
    return model !== undefined;
  }

  get counts() {
    return this.lru.counts;
  }

  get sizes() {
    return { entries: this.lru.size, bytes: this.lru.bytes, maxEntries: this.lru.maxEntries, maxBytes: this.lru.maxBytes };
  }
}

async function modelsPlugin(app: FastifyInstance, { config }: { config: AppConfig }): Promise<void> {
  const registry = new ModelRegistry(config.modelCacheEntries, config.modelCacheBytes);
  if (primary) {
    registry.shared = primary;
    primary.forget = (id) => {
      registry.delete(id);
      app.pool.forgetModel?.(id);
    };
  }
  app.decorate('models', registry);
}

export default fp(modelsPlugin, { name: 'gradserve-models' });
