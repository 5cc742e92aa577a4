// Elementwise ops in a long-lived process, as a worker is: each probe op alone (this scenario runs in
// a process of its own, before any other op has run), then again after other ops of its factory have
// run. Each op gets its own copy of its factory's loops (src/engine/ops/shared/loops.ts); were the
// copies shared, the ops run later would call their rules through one megamorphic site, 3–5× slower
// per element, which no single-op measurement shows. The ratios hold that (shared copies: 3–10×).
import { performance } from 'node:perf_hooks';
import type { GradientsJob } from '../../src/engine/api.js';
import { gradients, OPS } from '../../src/engine/index.js';
import { median, round, type Row } from './common.js';

const ELEMENTS = 1 << 20;
const RUNS = 25;
const LIMITS = { maxElements: 1e8, maxNodes: 1e6 };

/** probe op, and ops of the same factory that run between its two measurements */
const PROBES = [
  { factory: 'unary', probe: 'neg', others: ['square', 'exp', 'sqrt', 'reciprocal', 'sin', 'softsign'] },
  { factory: 'binary', probe: 'mul', others: ['sub', 'div', 'maximum', 'minimum', 'pow'] },
  { factory: 'pointwise loss', probe: 'mse_loss', others: ['l1_loss', 'huber_loss', 'bce_with_logits_loss'] },
] as const;

/** `op` over a float32 parameter (and a second one for a binary op), summed: forward and backward; null: the sum alone */
function job(op: string | null): GradientsJob {
  const values = (k: number) => ({ shape: [ELEMENTS], data: Float32Array.from({ length: ELEMENTS }, (_, i) => 0.5 + ((i * 7919 + k) % 1000) / 1000) });
  const binary = op !== null && OPS.get(op)!.minArity === 2;
  return {
    model: {
      type: 'graph',
      inputs: [],
      params: { a: { shape: [ELEMENTS] }, b: { shape: [ELEMENTS] } },
      constants: {},
      nodes: op === null ? [{ id: 'L', op: 'sum', inputs: ['a'] }] : [
        { id: 'y', op, inputs: binary ? ['a', 'b'] : ['a'] },
        { id: 'L', op: 'sum', inputs: ['y'] },
      ],
      output: 'L',
    },
    params: { a: values(1), b: values(2) },
    inputs: {},
    options: { dtype: 'float32', returnOutputs: false, returnIntermediates: false, inputGradients: false, diagnostics: false },
  };
}

const once = (j: GradientsJob): number => {
  const t0 = performance.now();
  gradients(j, LIMITS);
  return performance.now() - t0;
};

/**
 * The probe's time over the reference's (the sum alone, which runs no elementwise loop), in RUNS
 * alternating pairs: the median ratio, which a slow spell of the shared host moves little. Returns it
 * with the probe's median time, ms.
 */
function relative(probe: GradientsJob, reference: GradientsJob): { ratio: number; ms: number } {
  const ratios: number[] = [];
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = once(probe);
    times.push(t);
    ratios.push(t / once(reference));
  }
  return { ratio: median(ratios), ms: median(times) };
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const reference = job(null);
  for (const { factory, probe, others } of PROBES) {
    const j = job(probe);
    relative(j, reference); // warm-up: the engine's own code, the buffers' cache, the probe's loops
    const alone = relative(j, reference);
    for (const op of others) relative(job(op), reference);
    const after = relative(j, reference);
    const ratio = after.ratio / alone.ratio;
    const what = `${probe} on ${ELEMENTS} float32 elements, forward + backward`;
    rows.push(
      { scenario: 'elementwise', name: `${what}: alone in the process`, value: round(alone.ms, 2), unit: 'ms' },
      { scenario: 'elementwise', name: `${what}: after ${others.join(', ')}`, value: round(after.ms, 2), unit: 'ms' },
      {
        scenario: 'elementwise',
        name: `${probe} after other ${factory} ops / alone (each over the sum alone, in alternation)`,
        value: round(ratio, 2),
        exact: ratio,
        unit: '×',
        target: { op: '<=', limit: 2, label: `an op's speed does not depend on the ${factory} ops run before it` },
      },
    );
  }
  return rows;
}
