import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GradientsJob } from '../../src/engine/api.js';
import { deadUnits, diagnose, EXPLODING_GLOBAL_NORM, VANISHING_LAYER_RATIO } from '../../src/engine/diagnostics.js';
import type { CompiledNode } from '../../src/engine/graph.js';
import { relu } from '../../src/engine/ops/relu.js';
import { gradients } from '../../src/engine/index.js';
import type { MlpSpec } from '../../src/engine/spec.js';
import { expectClose, rand, t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, options, s64 } from './helpers.js';

const codes = (job: GradientsJob) => gradients(job, LIMITS).diagnostics!.warnings.map((w) => w.code);

function mlpJob(model: Partial<MlpSpec>, over: Partial<GradientsJob> = {}): GradientsJob {
  return {
    model: { type: 'mlp', inputSize: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'identity' }], bias: true, norm: 'none', residual: false, ...model },
    params: {},
    inputs: rand([8, 3], 1),
    loss: { type: 'mse', reduction: 'mean' },
    targets: rand([8, 1], 2),
    options: options(),
    ...over,
  };
}

describe('diagnostics', () => {
  it('reports per-parameter and global L2 norms', () => {
    const r = gradients(graphJob(
      { params: { a: { shape: [2] }, b: { shape: [] } }, nodes: [{ id: 'p', op: 'mul', inputs: ['a', 'b'] }, { id: 'L', op: 'sum', inputs: ['p'] }], output: 'L' },
      { params: { a: t64([2], [3, 4]), b: s64(2) } },
    ), LIMITS);
    // dL/da = [2, 2], dL/db = 3 + 4
    expectClose([r.diagnostics!.gradNorms.a!, r.diagnostics!.gradNorms.b!], [Math.sqrt(8), 7]);
    expectClose([r.diagnostics!.globalGradNorm], [Math.sqrt(8 + 49)]);
    expect(r.diagnostics!.warnings).toEqual([]);
  });

  it('warns of vanishing gradients when the first layer gets orders of magnitude less than the last', () => {
    // a tiny last-layer weight scales every gradient flowing below it
    const r = gradients(mlpJob({}, { params: { 'layers.1.weight': t64([1, 4], () => 1e-7) } }), LIMITS);
    const w = r.diagnostics!.warnings.find((x) => x.code === 'vanishing_gradients')!;
    expect(w.params.ratio as number).toBeLessThan(VANISHING_LAYER_RATIO);
    expect(w.params.firstLayer).toBe('layers.0.weight');
  });

  it('words a zero global norm as 0 when it warns of vanishing gradients', () => {
    const d = diagnose({ gradients: { w: t64([2], [0, 0]) } });
    expect(d.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^the global gradient norm 0 is below 1e-7:/)]);
  });

  it('warns of exploding gradients past the global threshold', () => {
    const r = gradients(mlpJob({}, { targets: t64([8, 1], () => 1e5) }), LIMITS);
    expect(r.diagnostics!.globalGradNorm).toBeGreaterThan(EXPLODING_GLOBAL_NORM);
    expect(r.diagnostics!.warnings.map((w) => w.code)).toContain('exploding_gradients');
  });

  it('reports dead ReLU units with their layer and count', () => {
    const bias = t64([4], [-100, -100, 0, -100]);
    const weight = t64([4, 3], () => 0.5);
    const r = gradients(mlpJob({ layers: [{ units: 4, activation: 'relu' }, { units: 1, activation: 'identity' }] }, {
      inputs: t64([8, 3], (i) => (i % 5) / 5),
      params: { 'layers.0.weight': weight, 'layers.0.bias': bias },
    }), LIMITS);
    const dead = r.diagnostics!.warnings.filter((w) => w.code === 'dead_units');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.params).toMatchObject({ layer: 0, dead: 3, units: 4 });
  });

  it('counts a unit alive when any row, the last included, is non-zero', () => {
    const node = { id: 'h', op: relu } as unknown as CompiledNode;
    // 3 rows × 4 units: unit 0 alive in row 0, unit 1 only in the last row, unit 2 never, unit 3 everywhere
    const value = t64([3, 4], [1, 0, 0, 2, 0, 0, 0, 2, 0, 5, 0, 2]);
    expect(deadUnits(node, value)).toEqual({ node: 'h', dead: 1, units: 4 });
    expect(deadUnits(node, t64([2, 2], [1, 1, 1, 1]))).toEqual({ node: 'h', dead: 0, units: 2 });
  });

  it('counts as dead exactly the units that are 0 (or −0) on every row', () => {
    const node = { id: 'h', op: relu } as unknown as CompiledNode;
    const cell = fc.oneof(fc.constant(0), fc.constant(-0), fc.constant(NaN), fc.double({ min: 0.1, max: 2 }));
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 7 }), fc.infiniteStream(cell), (rows, units, cells) => {
        const data = [...cells.take(rows * units)] as number[];
        let dead = 0;
        for (let j = 0; j < units; j++) if (Array.from({ length: rows }, (_, r) => data[r * units + j]).every((v) => v === 0)) dead++;
        expect(deadUnits(node, t64([rows, units], data))).toEqual({ node: 'h', dead, units });
      }),
    );
  });

  it('gives gradient norms from sums of squares over every element, whatever the length mod 4', () => {
    for (const n of [0, 1, 3, 4, 5, 8, 11]) {
      const g = t64([n], (i) => i - 3.5);
      const expected = Math.sqrt(Array.from({ length: n }, (_, i) => (i - 3.5) ** 2).reduce((a, b) => a + b, 0));
      expect(diagnose({ gradients: { g } }).gradNorms.g, `n = ${n}`).toBeCloseTo(expected, 12);
    }
  });

  it('flags non-finite gradients, and not finite ones whose squares overflow', () => {
    const big = diagnose({ gradients: { w: t64([2], [1e200, -1e200]) } });
    expect(big.warnings.map((w) => w.code)).not.toContain('non_finite');
    const bad = diagnose({ gradients: { w: t64([2], [1, NaN]), v: t64([1], [Infinity]), u: t64([1], [2]) } });
    expect(bad.warnings.find((w) => w.code === 'non_finite')!.params).toMatchObject({ params: ['w', 'v'] });
  });

  it('turns a NaN loss into a non_finite warning, not an error', () => {
    const job = graphJob({ params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'log', inputs: ['w'] }], output: 'L' }, { params: { w: s64(-1) } });
    const r = gradients(job, LIMITS);
    expect(Number.isNaN(r.loss)).toBe(true);
    expect(r.diagnostics!.warnings.map((w) => w.code)).toEqual(['non_finite']);
  });

  it('warns when clipping acts, returns the unclipped gradients and steps with the clipped ones', () => {
    const job = graphJob(
      { params: { w: { shape: [2] } }, nodes: [{ id: 'p', op: 'mul', inputs: ['w', 10] }, { id: 'L', op: 'sum', inputs: ['p'] }], output: 'L' },
      { params: { w: t64([2], [0, 0]) }, optimizer: { config: { type: 'sgd', lr: 1 } }, clipGradNorm: 1 },
    );
    const r = gradients(job, LIMITS);
    expectClose(r.gradients.w!, [10, 10]);
    // clip_grad_norm_: g · 1 / (‖g‖ + 1e-6), ‖g‖ = 10√2
    const scaled = 10 / (10 * Math.SQRT2 + 1e-6);
    expectClose(r.params!.w!, [-scaled, -scaled]);
    expect(r.diagnostics!.warnings.map((w) => w.code)).toEqual(['clipped']);
    expect(codes({ ...job, clipGradNorm: 100 })).toEqual([]);
    // torch scales a norm at maxNorm too (by maxNorm / (norm + 1e-6)): no warning that it exceeds it
    expect(codes({ ...job, clipGradNorm: 10 * Math.SQRT2 })).toEqual([]);
    expect(codes({ ...job, params: { w: t64([2], [0, 0]) }, clipGradNorm: 0, loss: undefined, outputGrad: s64(0) })).not.toContain('clipped');
  });

  it('can be switched off', () => {
    expect(gradients(mlpJob({}, { options: options({ diagnostics: false }) }), LIMITS).diagnostics).toBeUndefined();
  });
});
