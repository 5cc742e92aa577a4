import { describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { gradcheck as gradcheckWith } from '../../src/engine/gradcheck.js';
import { GradcheckConfigSchema, GradcheckResultSchema, gradcheck } from '../../src/engine/index.js';
import { buildRegistry, type AnyOp } from '../../src/engine/op.js';
import { ALL_OPS } from '../../src/engine/ops/index.js';
import { mul } from '../../src/engine/ops/mul.js';
import { rand, t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, options, twoWeightJob } from './helpers.js';

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
  });

  it('counts non-finite gradients as failures without producing NaN in the report', () => {
    const job = graphJob({ params: { w: { shape: [2] } }, nodes: [{ id: 'r', op: 'sqrt', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['r'] }], output: 'L' }, { params: { w: t64([2], [0, 4]) } });
    const r = gradcheck(job, cfg, LIMITS);
    expect(r.passed).toBe(false);
    expect(r.params.w!.nonFinite).toBe(1);
    expect(Number.isFinite(r.params.w!.maxAbsError)).toBe(true);
  });
});
