import type { CompiledGraph } from './graph.js';
import { Lru } from './lru.js';
import type { MlpExpansion, ParamDecl } from './mlp.js';
import { clone, type Tensor } from './tensor.js';

// Compiled graphs of known models (ModelJob.modelId), kept by the thread that compiled them: a
// request naming a known model with the data shapes of an earlier one skips the compiler. Off
// until keepPlans() is called (the workers call it, and the event loop for the tasks it computes
// itself, workers/pool.ts inPlaceFlops); the engine's direct callers compile every time.

/** What buildModel compiles for a model and the shapes of its data (engine/model.ts). */
export interface Plan {
  graph: CompiledGraph;
  /** the graph's inputs: an MLP's one, or a graph's by name */
  inputNames: readonly string[];
  params: readonly ParamDecl[];
  output: string;
  mlp?: MlpExpansion;
}

/** Cells of the counters the workers share with the event loop (metrics, /readyz), in a BigInt64Array. */
export const PLAN_STATS = { HITS: 0, MISSES: 1, EVICTIONS: 2, ENTRIES: 3, BYTES: 4, LENGTH: 5 } as const;

let plans: Lru<string, Plan> | undefined;
let shared: BigInt64Array | undefined;
let reported = { entries: 0, bytes: 0 };

const bump = (cell: number, by: number) => {
  if (shared !== undefined && by !== 0) Atomics.add(shared, cell, BigInt(by));
};

/** This thread's sizes, added to the shared ones as they change. */
function report(): void {
  if (plans === undefined) return;
  bump(PLAN_STATS.ENTRIES, plans.size - reported.entries);
  bump(PLAN_STATS.BYTES, plans.bytes - reported.bytes);
  reported = { entries: plans.size, bytes: plans.bytes };
}

/** Keeps up to `maxEntries` plans holding `maxBytes`; counts into `stats` (PLAN_STATS) when given. */
export function keepPlans(maxEntries: number, maxBytes: number, stats?: BigInt64Array): void {
  plans = new Lru(maxEntries, maxBytes);
  plans.onEvict = () => bump(PLAN_STATS.EVICTIONS, 1);
  shared = stats;
  reported = { entries: 0, bytes: 0 };
}

/** Takes this thread's plans out of the shared sizes (a worker leaving). */
export function dropPlans(): void {
  if (plans === undefined) return;
  bump(PLAN_STATS.ENTRIES, -reported.entries);
  bump(PLAN_STATS.BYTES, -reported.bytes);
  plans = undefined;
  reported = { entries: 0, bytes: 0 };
}

/** Drops the plans whose keys start with `prefix` (engine/model.ts forgetModelPlans). */
export function dropPlansStartingWith(prefix: string): void {
  if (plans === undefined) return;
  plans.deleteWhere((key) => key.startsWith(prefix));
  report();
}

export function findPlan(key: string): Plan | undefined {
  if (plans === undefined) return undefined;
  const p = plans.get(key);
  bump(p === undefined ? PLAN_STATS.MISSES : PLAN_STATS.HITS, 1);
  return p;
}

/**
 * Keeps `plan` for later requests. Its fixed values (constants, literals) are copied first: the
 * originals may be the request's own buffers or come from the buffer pool (buffers.ts), and both
 * are reused for other values once the request is answered.
 */
export function keepPlan(key: string, plan: Plan): void {
  if (plans === undefined) return;
  let bytes = 256 * (plan.graph.slots.length + plan.graph.nodes.length);
  const fixed = new Map<number, Tensor>();
  for (const [s, t] of plan.graph.fixed) {
    fixed.set(s, clone(t));
    bytes += t.data.byteLength;
  }
  plans.set(key, { ...plan, graph: { ...plan.graph, fixed } }, bytes);
  report();
}

/** The counters of every worker together, from the event loop (zeros without workers). */
export function readPlanStats(stats: BigInt64Array | undefined) {
  const cell = (i: number) => (stats === undefined ? 0 : Number(Atomics.load(stats, i)));
  return {
    hits: cell(PLAN_STATS.HITS),
    misses: cell(PLAN_STATS.MISSES),
    evictions: cell(PLAN_STATS.EVICTIONS),
    entries: cell(PLAN_STATS.ENTRIES),
    bytes: cell(PLAN_STATS.BYTES),
  };
}
