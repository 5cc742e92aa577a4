import { describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { gradcheck as gradcheckWith } from '../../src/engine/gradcheck.js';
import { GradcheckConfigSchema, GradcheckResultSchema, gradcheck } from '../../src/engine/index.js';
import { buildRegistry, type AnyOp } from '../../src/engine/op.js';
import { ALL_OPS } from '../../src/engine/ops/index.js';
import { mul } from '../../src/engine/ops/mul.js';
import { rand, t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, options, s64, twoWeightJob } from './helpers.js';

const cfg = GradcheckConfigSchema.parse({});

function mlpJob(over: Partial<GradientsJob> = {}): GradientsJob {
  return {
    model: {
      type: 'mlp',
      inputSize: 3,
      layers: [{ units: 5, activation: 'silu' }, { units: 5, activation: 'softplus' }, { units: 2, activation: 'identity' }],
      bias: true,
      norm: 'layernorm',
      residual: true,
      init: { scheme: 'default', seed: 2 },
    },
    params: {},
    inputs: rand([4, 3], 8),
    loss: { type: 'mse', reduction: 'mean' },
    targets: rand([4, 2], 9),
    options: options({ dtype: 'float32' }),
    ...over,
  };
}

describe('gradcheck', () => {
  it('passes on the two-weight chain, even for a float32 request (it recompiles in float64)', () => {
    const r = gradcheck(twoWeightJob({ options: options({ dtype: 'float32' }) }), cfg, LIMITS);
    expect(r.passed).toBe(true);
    expect(Object.keys(r.params)).toEqual(['w1', 'w2']);
    expect(r.params.w1!.checked).toBe(1);
    expect(r.params.w1!.maxAbsError).toBeLessThan(1e-6);
    expect(r.params.w1!.worst).toMatchObject({ index: 0, multiIndex: [], backprop: 15 });
    expect(GradcheckResultSchema.parse(r)).toEqual(r);
  });

  it('passes on an MLP with layernorm and residuals, and with outputGrad', () => {
    expect(gradcheck(mlpJob(), cfg, LIMITS).passed).toBe(true);
    const vjp = gradcheck(mlpJob({ loss: undefined, targets: undefined, outputGrad: rand([4, 2], 4) }), cfg, LIMITS);
    expect(vjp.passed).toBe(true);
  });

  it('checks at most maxElementsPerParam elements, chosen by the seed', () => {
    const job = graphJob({ params: { w: { shape: [100] } }, nodes: [{ id: 'q', op: 'square', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['q'] }], output: 'L' });
    const r = gradcheck(job, { ...cfg, maxElementsPerParam: 10 }, LIMITS);
    expect(r.params.w!.checked).toBe(10);
    expect(r.passed).toBe(true);
  });

  it('fails on an op whose VJP is wrong', () => {
    // mul with a VJP that forgets one factor on the second input
    const broken: AnyOp = { ...mul, summary: 'broken mul', derivative: 'wrong on purpose', vjp: (ins, out, g, attrs) => [mul.vjp(ins, out, g, attrs)[0]!, g] };
    const ops = buildRegistry([...ALL_OPS.filter((op) => op.name !== 'mul'), broken]);
    const r = gradcheckWith(twoWeightJob(), cfg, LIMITS, ops);
    expect(r.passed).toBe(false);
    // w1 and w2 are the first inputs of their muls; the broken second-input gradient breaks the chain into w1
    expect(r.params.w1!.passed).toBe(false);
    expect(r.params.w1!.maxAbsError).toBeGreaterThan(1);
    // dL/dy · 1 · x = −5·2 from the broken VJP, against the true 15; smooth, so no kink is claimed
    const worst = r.params.w1!.worst!;
    expect(worst).toMatchObject({ index: 0, multiIndex: [], backprop: -10 });
    expect(worst.numeric).toBeCloseTo(15, 6);
    expect(worst.hint).toBeUndefined();
  });

  it('names the worst element by flat and multi-index with its backprop and numeric values', () => {
    // relu's kink at w[1, 0] = 0 is the only failure; the other elements pass
    const job = graphJob(
      { params: { w: { shape: [2, 3] } }, nodes: [{ id: 'r', op: 'relu', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['r'] }], output: 'L' },
      { params: { w: t64([2, 3], [1, -2, 3, 0, 0.5, -1]) } },
    );
    const r = gradcheck(job, cfg, LIMITS);
    expect(GradcheckResultSchema.parse(r)).toEqual(r);
    const worst = r.params.w!.worst!;
    expect(worst).toMatchObject({ index: 3, multiIndex: [1, 0], backprop: 0 });
    expect(worst.numeric).toBeCloseTo(0.5, 6);
    expect(r.params.w!.maxAbsError).toBe(Math.abs(worst.numeric! - worst.backprop!));
  });

  it('says when the worst element fails at a kink of a non-smooth op, not at a wrong VJP', () => {
    const one = (op: string, w: number, over = {}) =>
      gradcheck(graphJob({ params: { w: { shape: [] } }, nodes: [{ id: 'L', op, inputs: ['w', ...(op === 'pow' ? [3] : [])] }], output: 'L' }, { params: { w: s64(w) } }), { ...cfg, ...over }, LIMITS).params.w!;
    const relu = one('relu', 0);
    expect(relu.passed).toBe(false);
    expect(relu.worst).toMatchObject({ index: 0, multiIndex: [], backprop: 0, numeric: 0.5 });
    expect(relu.worst!.hint).toMatch(/^L has a kink at this element: its slope is 0 to the left and 1 to the right\. .*backprop took the left one/);
    // a step too coarse for w³ also makes the one-sided slopes differ, but backprop sits halfway between them
    const coarse = one('pow', 1, { eps: 0.5, atol: 0, rtol: 0 });
    expect(coarse.passed).toBe(false);
    expect(coarse.worst).toEqual({ index: 0, multiIndex: [], backprop: 3, numeric: 3.25 });
    // passing elements get no hint, kink or not
    expect(one('relu', 1).worst!.hint).toBeUndefined();
  });

  it('counts non-finite gradients as failures without producing NaN in the report', () => {
    const job = graphJob({ params: { w: { shape: [2] } }, nodes: [{ id: 'r', op: 'sqrt', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['r'] }], output: 'L' }, { params: { w: t64([2], [0, 4]) } });
    const r = gradcheck(job, cfg, LIMITS);
    expect(r.passed).toBe(false);
    expect(r.params.w!.nonFinite).toBe(1);
    expect(Number.isFinite(r.params.w!.maxAbsError)).toBe(true);
    // sqrt's infinite slope at 0 and NaN left of it outrank any finite error
    expect(r.params.w!.worst).toEqual({ index: 0, multiIndex: [0], backprop: null, numeric: null });
  });
});
