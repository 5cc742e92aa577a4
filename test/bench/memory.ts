// Memory of one request: the bytes a gradients() call allocates, against the bytes of the request's
// tensors (inputs, targets, parameters).
//
// Method: typed-array storage lives outside the JS heap and is counted by process.memoryUsage()
// .arrayBuffers; it is only given back by a garbage collection. So after a forced full GC, the growth
// of arrayBuffers across one call is everything the call allocated, provided no GC ran during the call
// (checked with a PerformanceObserver on 'gc' entries; such a sample is dropped). That sum is an upper
// bound of the call's peak: buffers freed early (dead activations) are counted as if they were live.
// heapUsed's growth is reported too: per-element JS objects or arrays would show up there.
// The engine keeps a per-thread cache of intermediate buffers between calls (src/engine/buffers.ts),
// so the cache is emptied before each measured call: the figure is what a call needs from a cold
// start. The steady state (warm cache: what a call allocates anew, mostly its returned gradients)
// and the cache's size are reported beside it.
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cachedBufferBytes, dropCachedBuffers } from '../../src/engine/buffers.js';
import type { GradientsJob, Limits } from '../../src/engine/api.js';
import { gradients } from '../../src/engine/index.js';
import { breathe, describe, LARGE, median, mlpData, mlpJob, round, SMALL, tensorBytes, type Ctx, type Row } from './common.js';

const LIMITS = { maxElements: 4_000_000, maxNodes: 10_000 };

function collector(): () => void {
  // --expose-gc set at run time: the flag makes the next new context get a global gc()
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface Allocation {
  /** typed-array bytes one gradients() call allocates from a cold buffer cache (≥ its peak) */
  cold: number;
  /** the same with the cache warm */
  warm: number;
  /** JS heap growth during a cold call */
  heap: number;
  samples: number;
  /** the buffer cache's bytes after the warm calls */
  cacheBytes: number;
}

/** What one job's gradients() allocates (the method above), medians over up to 7 calls without a GC. */
export async function allocation(job: GradientsJob, limits: Limits = LIMITS): Promise<Allocation> {
  const gc = collector();
  let gcRuns = 0;
  const obs = new PerformanceObserver((list) => (gcRuns += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  try {
    for (let i = 0; i < 3; i++) gradients(job, limits); // warm-up: compiled code, kernel buffers
    const measure = async (cold: boolean) => {
      const external: number[] = [];
      const heap: number[] = [];
      for (let attempt = 0; external.length < 7 && attempt < 30; attempt++) {
        if (cold) dropCachedBuffers();
        gc();
        gc();
        await breathe(); // deliver the gc entries of the forced collections before counting
        const seen = gcRuns;
        const before = process.memoryUsage();
        gradients(job, limits);
        const after = process.memoryUsage();
        await breathe();
        if (gcRuns !== seen) continue;
        external.push(after.arrayBuffers - before.arrayBuffers);
        heap.push(after.heapUsed - before.heapUsed);
      }
      if (external.length === 0) throw new Error('memory bench: a garbage collection ran during every measured call');
      return { allocated: median(external), heap: median(heap), samples: external.length };
    };
    const cold = await measure(true);
    const warm = await measure(false);
    return { cold: cold.allocated, warm: warm.allocated, heap: cold.heap, samples: cold.samples, cacheBytes: cachedBufferBytes() };
  } finally {
    obs.disconnect();
  }
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  for (const m of [LARGE, SMALL]) {
    ctx.log(`memory: ${m.key} model`);
    const data = mlpData(m);
    const job = mlpJob(m, data);
    const requestBytes = tensorBytes([data.inputs, data.targets, ...Object.values(data.params)]);
    const { cold, warm, heap, samples, cacheBytes: cache } = await allocation(job);
    const resultBytes = tensorBytes(Object.values(gradients(job, LIMITS).gradients));
    const allocated = cold;
    const name = (s: string) => `${m.key} (${describe(m)}): ${s}`;
    rows.push({ scenario: 'memory', name: name('request tensor bytes (inputs, targets, params)'), value: round(requestBytes / 2 ** 20), unit: 'MiB' });
    rows.push({ scenario: 'memory', name: name('typed arrays allocated by gradients(), cold cache (≥ peak)'), value: round(allocated / 2 ** 20), unit: 'MiB', resultBytes, samples });
    rows.push({ scenario: 'memory', name: name('typed arrays allocated by gradients(), warm cache'), value: round(warm / 2 ** 20), unit: 'MiB', cacheBytes: cache });
    rows.push({ scenario: 'memory', name: name('JS heap growth during gradients()'), value: round(heap / 2 ** 20), unit: 'MiB' });
    rows.push({
      scenario: 'memory',
      name: name('allocated / request tensor bytes'),
      value: round(allocated / requestBytes, 2),
      exact: allocated / requestBytes,
      unit: '×',
      ...(m === LARGE ? { target: { op: '<=', limit: 3, label: 'peak allocation / tensor bytes' } } : {}),
    });
  }
  return rows;
}
