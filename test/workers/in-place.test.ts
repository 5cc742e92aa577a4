import { describe, expect, it } from 'vitest';
import type { GradientsJob, GradientsResult } from '../../src/engine/api.js';
import { SpecError } from '../../src/engine/errors.js';
import { costsAtMost, gradients } from '../../src/engine/index.js';
import { forgetModelPlans } from '../../src/engine/model.js';
import { keepPlans, PLAN_STATS } from '../../src/engine/plans.js';
import { twoWeight, twoWeightId, xorMlp } from '../../src/routes/shared/examples.js';
import { GradientsBodySchema } from '../../src/routes/gradients/schema.js';
import { decodeModelRequest } from '../../src/wire/request.js';
import { WorkerPool, type PoolOptions } from '../../src/workers/pool.js';

// Tiny tasks of known models computed on the calling thread (PoolOptions.inPlaceFlops), through the
// real pool and the compiled worker (dist/, built by `npm test`), against the same tasks in a worker.

const limits = { maxElements: 1_000_000, maxNodes: 1000 };
const plans = { entries: 16, bytes: 1 << 24 };

function job(body: object, modelId: string | null = twoWeightId): GradientsJob {
  const j = decodeModelRequest(GradientsBodySchema.parse(body) as never, limits) as GradientsJob;
  if (modelId !== null) j.modelId = modelId;
  return j;
}

/** The chain with Adam, the XOR MLP (parameters initialized, cross-entropy over integer classes): float32. */
const tiny = () => [
  job({ ...twoWeight, optimizer: { type: 'adam', lr: 0.1 } }),
  job(
    {
      ...xorMlp,
      model: { ...xorMlp.model, layers: [{ units: 4, activation: 'tanh' }, { units: 2 }] },
      targets: [0, 1, 1, 0],
      loss: { type: 'cross_entropy' },
    },
    'sha256:xor',
  ),
];

/** 200 nodes: w applied 199 times to x, then the loss. */
function longChain(): GradientsJob {
  const nodes = [{ id: 'n0', op: 'mul', inputs: ['w', 'x'] }];
  for (let i = 1; i < 199; i++) nodes.push({ id: `n${i}`, op: 'mul', inputs: ['w', `n${i - 1}`] });
  nodes.push({ id: 'L', op: 'mse_loss', inputs: ['n198', 't'] });
  const model = { type: 'graph', inputs: ['x', 't'], params: { w: { shape: [] } }, nodes, output: 'L' };
  return job({ model, params: { w: 1 }, inputs: { x: 2, t: 1 } }, 'sha256:long');
}

async function withPools(test: (here: WorkerPool, there: WorkerPool) => Promise<void>, inPlaceFlops = 2 ** 18): Promise<void> {
  const opts: PoolOptions = { workers: 1, queueLimit: 8, timeoutMs: 10_000, blas: process.env.BLAS ?? 'auto', plans };
  const here = new WorkerPool({ ...opts, inPlaceFlops });
  const there = new WorkerPool(opts);
  try {
    await Promise.all([here.start(), there.start()]);
    await test(here, there);
  } finally {
    await Promise.all([here.close(), there.close()]);
  }
}

const plain = (r: GradientsResult) => JSON.parse(JSON.stringify(r, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));

describe('tasks computed in place', () => {
  it('computes a tiny task of a known model on the calling thread, with the answer a worker gives', async () => {
    await withPools(async (here, there) => {
      const sent = here.batchesSent;
      for (const [i, j] of tiny().entries()) {
        const mine = await here.run<GradientsResult>({ kind: 'gradients', job: j, limits });
        const theirs = await there.run<GradientsResult>({ kind: 'gradients', job: tiny()[i]!, limits });
        expect(mine.queueMs).toBe(0);
        // the same numbers to the last bit (the same kernels): gradients, initialized and updated
        // parameters, optimizer state, loss, diagnostics
        const { timing: _a, ...a } = plain(mine.result);
        const { timing: _b, ...b } = plain(theirs.result);
        expect(a).toEqual(b);
        expect(mine.result.gradients[Object.keys(mine.result.gradients)[0]!]!.data).toBeInstanceOf(Float32Array);
      }
      expect(here.computedInPlace).toBe(2);
      expect(here.batchesSent).toBe(sent);
      expect(there.computedInPlace).toBe(0);
      // the chain's values (README): dL/dw1 = 15, dL/dw2 = −5
      const chain = await here.run<GradientsResult>({ kind: 'gradients', job: job(twoWeight), limits });
      expect(plain(chain.result).gradients).toEqual({ w1: { shape: [], data: [15] }, w2: { shape: [], data: [-5] } });
      // forward tasks too
      const fwd = await here.run<{ loss: number }>({ kind: 'forward', job: job(twoWeight), limits });
      expect(fwd.result.loss).toBe(6.25);
      expect(here.computedInPlace).toBe(4);
    });
  });

  it('sends a worker what is over the bound, of a model not known, or of any other kind', async () => {
    await withPools(async (here) => {
      const sent = here.batchesSent;
      const long = await here.run<GradientsResult>({ kind: 'gradients', job: longChain(), limits });
      expect(plain(long.result).gradients.w.data).toEqual([2 * 199 * 2 * 1]); // 2(w^199·x − t)·199·w^198·x at w = 1
      await here.run({ kind: 'gradients', job: job(twoWeight, null), limits });
      await here.run({ kind: 'explain', job: job(twoWeight), limits });
      // the long chain twice: its first job goes without the spec, and its worker asks for it (pool.ts leavesSpecOut)
      expect(here.batchesSent - sent).toBe(4);
      expect(here.computedInPlace).toBe(0);
    });
    // a bound below the chain's estimate: to a worker
    await withPools(async (here) => {
      await here.run({ kind: 'gradients', job: job(twoWeight), limits });
      expect(here.computedInPlace).toBe(0);
    }, 10_000);
  });

  it('counts the event loop as a request in flight while it computes, so that a lone large task leaves it its core', async () => {
    await withPools(async (here) => {
      // kernels/threads.ts: the count of requests in flight that sizes OpenBLAS's threads
      const inFlight = () => Atomics.load(here['cores'], 0);
      expect(inFlight()).toBe(0);
      await here.run({ kind: 'gradients', job: job(twoWeight), limits });
      expect(inFlight()).toBe(1);
      await here.run({ kind: 'gradients', job: job(twoWeight), limits });
      expect(inFlight()).toBe(1); // once, however many
      const t0 = performance.now();
      while (inFlight() !== 0 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
      expect(inFlight()).toBe(0); // let go once it has computed nothing for a while (20 ms)
    });
  });

  it('fails a tiny task with the error its worker would give', async () => {
    await withPools(async (here, there) => {
      // found while costing (a parameter's shape): left to a worker
      const badShape = () => job({ ...twoWeight, params: { w1: [1, 2], w2: 1 } });
      // found while computing, here (bce_loss of a value outside [0, 1])
      const outside = () =>
        job(
          {
            model: { type: 'graph', inputs: ['x', 't'], params: { w: { shape: [] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 'x'] }, { id: 'L', op: 'bce_loss', inputs: ['y', 't'] }], output: 'L' },
            params: { w: 1 },
            inputs: { x: 1.5, t: 1 },
          },
          'sha256:bce',
        );
      for (const make of [badShape, outside]) {
        const mine = await here.run({ kind: 'gradients', job: make(), limits }).catch((e: unknown) => e);
        const theirs = await there.run({ kind: 'gradients', job: make(), limits }).catch((e: unknown) => e);
        expect(mine).toBeInstanceOf(SpecError);
        expect((mine as SpecError).issues).toEqual((theirs as SpecError).issues);
      }
      expect(here.computedInPlace).toBe(1);
    });
  });
});

describe('costsAtMost', () => {
  it('estimates from the compiled plan, and turns a model down by its node count without compiling it', () => {
    const stats = new BigInt64Array(PLAN_STATS.LENGTH);
    keepPlans(16, 1 << 24, stats);
    // three nodes of 10,000 FLOPs each (cost.ts NODE_FLOPS), three passes: just over 90,000
    expect(costsAtMost(job(twoWeight), limits, 100_000)).toBe(true);
    expect(costsAtMost(job(twoWeight), limits, 90_000)).toBe(false);
    // compiled once, then found
    expect([stats[PLAN_STATS.MISSES], stats[PLAN_STATS.HITS]]).toEqual([1n, 1n]);
    expect(costsAtMost(longChain(), limits, 2 ** 18)).toBe(false);
    expect(stats[PLAN_STATS.MISSES] + stats[PLAN_STATS.HITS]).toBe(2n);
    // a parameter no node reads is still initialized (and stepped): its elements count
    const unused = (n: number) =>
      job({ ...twoWeight, model: { ...twoWeight.model, params: { ...twoWeight.model.params, spare: { shape: [n] } } }, params: { w1: 0.5, w2: -1.5 } }, `sha256:unused${n}`);
    expect(costsAtMost(unused(10), limits, 2 ** 18)).toBe(true);
    expect(costsAtMost(unused(100_000), limits, 2 ** 18)).toBe(false);
    // nor a job whose own tensors are over the estimate already: turned down without compiling it
    const looked = stats[PLAN_STATS.MISSES] + stats[PLAN_STATS.HITS];
    const wide = new Array(100_000).fill(1);
    expect(costsAtMost(job({ ...twoWeight, inputs: { x: wide, t: wide } }, 'sha256:wide'), limits, 2 ** 18)).toBe(false);
    expect(stats[PLAN_STATS.MISSES] + stats[PLAN_STATS.HITS]).toBe(looked);
  });

  it('forgets every plan of a deleted model, whatever its shapes, and no other model\'s (WorkerPool.forgetModel)', () => {
    const stats = new BigInt64Array(PLAN_STATS.LENGTH);
    keepPlans(16, 1 << 24, stats);
    const entries = () => Number(stats[PLAN_STATS.ENTRIES]);
    for (const j of [job(twoWeight), job({ ...twoWeight, inputs: { x: [2, 3], t: [1, 1] } }), job(twoWeight, 'sha256:other')]) costsAtMost(j, limits, 2 ** 18);
    expect(entries()).toBe(3);
    forgetModelPlans(twoWeightId);
    expect(entries()).toBe(1);
    expect(stats[PLAN_STATS.EVICTIONS]).toBe(0n);
    costsAtMost(job(twoWeight, 'sha256:other'), limits, 2 ** 18);
    expect(stats[PLAN_STATS.HITS]).toBe(1n);
  });

  it('a job costed, then computed, looks for its plan once; another job of the same model finds it', () => {
    const stats = new BigInt64Array(PLAN_STATS.LENGTH);
    keepPlans(16, 1 << 24, stats);
    const looks = () => stats[PLAN_STATS.MISSES] + stats[PLAN_STATS.HITS];
    const first = job(twoWeight);
    expect(costsAtMost(first, limits, 2 ** 18)).toBe(true);
    expect(gradients(first, limits).gradients.w1!.data[0]).toBe(15);
    expect([stats[PLAN_STATS.MISSES], looks()]).toEqual([1n, 1n]);
    const second = job(twoWeight);
    expect(gradients(second, limits).gradients.w2!.data[0]).toBe(-5);
    expect([stats[PLAN_STATS.HITS], looks()]).toEqual([1n, 2n]);
    // other limits are checked again: the plan is looked for anew
    expect(costsAtMost(second, { ...limits }, 2 ** 18)).toBe(true);
    expect(looks()).toBe(3n);
  });
});
