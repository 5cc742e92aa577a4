import { describe, expect, it } from 'vitest';
import type { GradientsJob, Limits } from '../../src/engine/api.js';
import { ELEMENT_FLOPS, forwardCost, NODE_FLOPS } from '../../src/engine/cost.js';
import { LimitError } from '../../src/engine/errors.js';
import { gradcheck } from '../../src/engine/gradcheck.js';
import { forward, gradients } from '../../src/engine/gradients.js';
import { buildModel } from '../../src/engine/model.js';
import { buildRegistry, type AnyOp } from '../../src/engine/op.js';
import { ALL_OPS, OPS } from '../../src/engine/ops/index.js';
import { train } from '../../src/engine/train.js';
import { GradcheckConfigSchema } from '../../src/engine/index.js';
import { tensor } from '../../src/engine/tensor.js';
import { rand } from '../helpers/op-check.js';
import { graphJob, LIMITS, options } from './helpers.js';

/** The registry with every op's forward and VJP counted: what ran, if anything. */
function countingOps() {
  const calls = { forward: 0, vjp: 0 };
  const ops = buildRegistry(
    ALL_OPS.map((op): AnyOp => ({
      ...op,
      forward: (...a: Parameters<AnyOp['forward']>) => (calls.forward++, op.forward(...a)),
      vjp: (...a: Parameters<AnyOp['vjp']>) => (calls.vjp++, op.vjp(...a)),
    })),
  );
  return { ops, calls };
}

const flopsOf = (job: GradientsJob) => forwardCost(buildModel(job, LIMITS, { ops: OPS }).graph).flops;

/** x [rows, 64] through `layers` 64-wide linear + tanh layers, summed */
function wideJob(rows: number, layers: number): GradientsJob {
  const params: Record<string, { shape: number[] }> = {};
  const nodes = [];
  let prev = 'x';
  for (let i = 0; i < layers; i++) {
    params[`w${i}`] = { shape: [64, 64] };
    nodes.push({ id: `l${i}`, op: 'linear', inputs: [prev, `w${i}`] }, { id: `h${i}`, op: 'tanh', inputs: [`l${i}`] });
    prev = `h${i}`;
  }
  nodes.push({ id: 'out', op: 'sum', inputs: [prev] });
  return graphJob({ inputs: ['x'], params, nodes, output: 'out' }, { inputs: { x: rand([rows, 64], 3) } });
}

describe('cost estimates', () => {
  it('counts a matrix product exactly: 2·k per output element, batches included', () => {
    const job = graphJob({ inputs: ['a', 'b'], nodes: [{ id: 'c', op: 'matmul', inputs: ['a', 'b'] }], output: 'c' }, {
      inputs: { a: rand([2, 3, 4], 1), b: rand([4, 5], 2) },
    });
    expect(flopsOf(job)).toBe(NODE_FLOPS + 2 * (2 * 3 * 5) * 4);
  });

  it('counts linear exactly, its bias one addition per output element', () => {
    const job = graphJob({ inputs: ['x', 'w', 'b'], nodes: [{ id: 'y', op: 'linear', inputs: ['x', 'w', 'b'] }], output: 'y' }, {
      inputs: { x: rand([8, 16], 1), w: rand([4, 16], 2), b: rand([4], 3) },
    });
    expect(flopsOf(job)).toBe(NODE_FLOPS + 8 * 4 * (2 * 16 + 1));
  });

  it('counts a convolution exactly: 2 per kernel element of its group per output element', () => {
    const job = graphJob({ inputs: ['x', 'w'], nodes: [{ id: 'y', op: 'conv2d', inputs: ['x', 'w'], attrs: { groups: 2 } }], output: 'y' }, {
      inputs: { x: rand([1, 4, 8, 8], 1), w: rand([6, 2, 3, 3], 2) },
    });
    expect(flopsOf(job)).toBe(NODE_FLOPS + 2 * (6 * 6 * 6) * (2 * 3 * 3));
  });

  it('counts attention by its two products per batch, and a few operations per weight for the softmax', () => {
    const job = graphJob({ inputs: ['q', 'k', 'v'], nodes: [{ id: 'o', op: 'scaled_dot_product_attention', inputs: ['q', 'k', 'v'] }], output: 'o' }, {
      inputs: { q: rand([2, 5, 4], 1), k: rand([2, 7, 4], 2), v: rand([2, 7, 3], 3) },
    });
    expect(flopsOf(job)).toBe(NODE_FLOPS + 2 * 5 * 7 * (2 * 4 + 2 * 3 + 5));
  });

  it('counts an elementwise op or a reduction by the elements it reads and writes', () => {
    const job = graphJob({ inputs: ['x', 'y'], nodes: [{ id: 's', op: 'add', inputs: ['x', 'y'] }, { id: 't', op: 'sum', inputs: ['s'] }], output: 't' }, {
      inputs: { x: rand([10, 3], 1), y: rand([3], 2) },
    });
    expect(flopsOf(job)).toBe(2 * NODE_FLOPS + ELEMENT_FLOPS * ((30 + 3 + 30) + (30 + 1)));
  });

  it('counts a dearer function by its elements at the speed the budget assumes', () => {
    const one = (op: string) =>
      flopsOf(graphJob({ inputs: ['x', 't'], nodes: [{ id: 'y', op, inputs: op.endsWith('loss') ? ['x', 't'] : ['x'] }], output: 'y' }, {
        inputs: { x: rand([10, 3], 1), t: rand([10, 3], 2) },
      })) - NODE_FLOPS;
    expect(one('neg')).toBe(ELEMENT_FLOPS * (30 + 30));
    expect(one('exp')).toBe(8 * 30);
    expect(one('softmax')).toBe(12 * 30);
    expect(one('mse_loss')).toBe(ELEMENT_FLOPS * (30 + 30 + 1));
    expect(one('huber_loss')).toBe(16 * 30);
  });

  it('counts pow by its exponent when it is known before running: Math.pow, or one of the exponents computed without it', () => {
    const pow = (b: number | string, constants = {}, params = {}) =>
      flopsOf(graphJob({ inputs: ['x'], params, constants, nodes: [{ id: 'y', op: 'pow', inputs: ['x', b] }], output: 'y' }, {
        inputs: { x: rand([10, 3], 1) },
      })) - NODE_FLOPS;
    expect(pow(2)).toBe(3 * ELEMENT_FLOPS * 30);
    expect(pow(0.5)).toBe(3 * ELEMENT_FLOPS * 30);
    expect(pow(1.7)).toBe(72 * 30);
    expect(pow('e', { e: tensor([3], [2, 3, -1], 'float64') })).toBe(3 * ELEMENT_FLOPS * 30);
    expect(pow('e', { e: tensor([3], [2, 3, 1.5], 'float64') })).toBe(72 * 30);
    // a trainable exponent: not known, counted as the cheaper kind, so that nothing that could finish is refused
    expect(pow('e', {}, { e: { shape: [] } })).toBe(3 * ELEMENT_FLOPS * 30);
  });
});

describe('the FLOP budget', () => {
  const cfg = GradcheckConfigSchema.parse({ maxElementsPerParam: 16 });
  const job = wideJob(32, 4);
  const pass = flopsOf(job);
  const checked = 4 * 16;
  const passesOfCheck = 2 * checked + 3;

  it('refuses a gradient check over it before anything runs, naming the estimate, the budget and the way to lower it', () => {
    const { ops, calls } = countingOps();
    const limits: Limits = { ...LIMITS, maxFlops: pass * passesOfCheck - 1 };
    let err: unknown;
    try {
      gradcheck(job, cfg, limits, ops);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LimitError);
    const e = err as LimitError;
    expect(e.path).toEqual(['gradcheck', 'maxElementsPerParam']);
    expect(e.reason).toContain(`the check of ${checked} elements`);
    expect(e.reason).toContain(`needs an estimated ${((pass * passesOfCheck) / 1e6).toPrecision(3)} MFLOP`);
    expect(e.reason).toContain('FLOP_BUDGET');
    expect(e.reason).toContain('gradcheck.maxElementsPerParam');
    expect(calls).toEqual({ forward: 0, vjp: 0 });
  });

  it('lets the same check run at its estimate', () => {
    const { ops, calls } = countingOps();
    const r = gradcheck(job, cfg, { ...LIMITS, maxFlops: pass * passesOfCheck }, ops);
    expect(r.passed).toBe(true);
    expect(calls.forward).toBeGreaterThan(0);
  });

  it('refuses gradients, forward and training over it before anything runs', () => {
    const { ops, calls } = countingOps();
    const tight: Limits = { ...LIMITS, maxFlops: 3 * pass - 1 };
    expect(() => gradients(job, tight, ops)).toThrow(/a forward and a backward pass needs an estimated .* over the budget .*split the batch/);
    const opt = { optimizer: { config: { type: 'sgd', lr: 0.1 } } };
    expect(() => train({ ...job, ...opt }, { steps: 10 }, { ...LIMITS, maxFlops: 30 * pass - 1 }, ops)).toThrow(/10 steps .*fewer steps/);
    expect(() => forward(job, { ...LIMITS, maxFlops: pass - 1 }, ops)).toThrow(LimitError);
    expect(calls).toEqual({ forward: 0, vjp: 0 });
    // at the estimate, they run
    expect(forward(job, { ...LIMITS, maxFlops: pass }, ops).outputs.shape).toEqual([]);
    expect(Object.keys(gradients(job, { ...LIMITS, maxFlops: 3 * pass }, ops).gradients)).toHaveLength(4);
  });

  it('counts float32 values at four bytes, float64 at eight', () => {
    const g32 = buildModel({ ...job, options: options({ dtype: 'float32' }) }, LIMITS, { ops: OPS }).graph;
    const g64 = buildModel(job, LIMITS, { ops: OPS }).graph;
    expect(forwardCost(g64).bytes).toBe(2 * forwardCost(g32).bytes);
    expect(forwardCost(g64).bytes).toBe(8 * g64.elements);
  });
});
