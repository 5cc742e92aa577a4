import { describe, expect, it } from 'vitest';
import { gradients } from '../../src/engine/index.js';
import { SpecError } from '../../src/engine/errors.js';
import { expectClose, rand, t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, options, s64, twoWeightJob } from './helpers.js';

describe('gradients of graphs', () => {
  it('gives the known values of the two-weight chain', () => {
    const r = gradients(twoWeightJob(), LIMITS);
    expect(r.loss).toBe(6.25);
    expectClose(r.gradients.w2!, [-5]);
    expectClose(r.gradients.w1!, [15]);
    expect(r.params).toBeUndefined();
  });

  it('accumulates the gradient of a value used twice (x·x)', () => {
    const job = graphJob(
      { params: { x: { shape: [] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['x', 'x'] }], output: 'y' },
      { params: { x: s64(3) } },
    );
    const r = gradients(job, LIMITS);
    expect(r.loss).toBe(9);
    expectClose(r.gradients.x!, [6]);
  });

  it('accumulates across nodes: y = x·x, z = y·x gives 3x²', () => {
    const job = graphJob(
      {
        params: { x: { shape: [] } },
        nodes: [
          { id: 'z', op: 'mul', inputs: ['y', 'x'] },
          { id: 'y', op: 'mul', inputs: ['x', 'x'] },
        ],
        output: 'z',
      },
      { params: { x: s64(2) } },
    );
    expectClose(gradients(job, LIMITS).gradients.x!, [12]);
  });

  it('sums broadcast gradients back to the parameter shape', () => {
    // y = w[3] · X[2,3]; L = sum(y · G) through outputGrad → dL/dw_j = Σ_i G_ij X_ij
    const X = t64([2, 3], [1, 2, 3, 4, 5, 6]);
    const G = t64([2, 3], [1, 0, -1, 2, 1, 0]);
    const job = graphJob(
      { inputs: ['X'], params: { w: { shape: [3] }, b: { shape: [] } }, nodes: [
        { id: 'p', op: 'mul', inputs: ['X', 'w'] },
        { id: 'y', op: 'mul', inputs: ['p', 'b'] },
      ], output: 'y' },
      { inputs: { X }, params: { w: t64([3], [1, 1, 1]), b: s64(2) }, outputGrad: G },
    );
    const r = gradients(job, LIMITS);
    expectClose(r.gradients.w!, [2 * (1 + 8), 2 * (0 + 5), 2 * (-3 + 0)]);
    // b is a scalar broadcast over [2, 3]: dL/db = Σ G·X·w
    expectClose(r.gradients.b!, [1 + 0 - 3 + 8 + 5 + 0]);
    expect(r.loss).toBeUndefined();
  });

  it('computes a VJP with outputGrad equal to the gradient of sum(output · outputGrad)', () => {
    const X = rand([3, 4], 1);
    const G = rand([3, 2], 2);
    const W = rand([2, 4], 3);
    const model = {
      inputs: ['X'],
      params: { W: { shape: [2, 4] } },
      nodes: [
        { id: 'z', op: 'linear', inputs: ['X', 'W'] },
        { id: 'y', op: 'tanh', inputs: ['z'] },
      ],
      output: 'y',
    };
    const vjp = gradients(graphJob(model, { inputs: { X }, params: { W }, outputGrad: G }), LIMITS);
    const viaLoss = gradients(
      graphJob(
        {
          ...model,
          constants: { G },
          nodes: [...model.nodes, { id: 'yg', op: 'mul', inputs: ['y', 'G'] }, { id: 'L', op: 'sum', inputs: ['yg'] }],
          output: 'L',
        },
        { inputs: { X }, params: { W } },
      ),
      LIMITS,
    );
    expectClose(vjp.gradients.W!, Array.from(viaLoss.gradients.W!.data), 1e-12);
  });

  it('refuses an outputGrad of the wrong shape, and a non-scalar output without loss', () => {
    const model = { params: { w: { shape: [2] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 2] }], output: 'y' };
    const wrong = () => gradients(graphJob(model, { params: { w: t64([2], [1, 2]) }, outputGrad: t64([3], [1, 1, 1]) }), LIMITS);
    expect(wrong).toThrow(SpecError);
    expect(() => wrong()).toThrow(expect.objectContaining({ path: ['outputGrad'] }));
    expect(() => gradients(graphJob(model, { params: { w: t64([2], [1, 2]) } }), LIMITS)).toThrow(
      expect.objectContaining({ path: ['loss'] }),
    );
  });

  it('returns input gradients, outputs and intermediates when asked', () => {
    const r = gradients(twoWeightJob({ options: options({ inputGradients: true, returnOutputs: true, returnIntermediates: true }) }), LIMITS);
    // dL/dx = dL/dy · w2 · w1 = −5 · −1.5 · 0.5; dL/dt = −dL/dy
    expectClose(r.inputGradients!.x!, [3.75]);
    expectClose(r.inputGradients!.t!, [5]);
    expectClose(r.outputs!, [6.25]);
    expect(Object.keys(r.intermediates!)).toEqual(['h', 'y', 'L']);
    expectClose(r.intermediates!.h!.value, [1]);
    expectClose(r.intermediates!.h!.grad!, [7.5]);
    expectClose(r.intermediates!.L!.grad!, [1]);
  });

  it('keeps the request dtype in float32 and casts literals, constants and params to it', () => {
    const job = twoWeightJob({ options: options({ dtype: 'float32' }) });
    const r = gradients(job, LIMITS);
    expect(r.gradients.w1!.data).toBeInstanceOf(Float32Array);
    expectClose(r.gradients.w1!, [15], 1e-6);
  });

  it('gives every returned tensor a buffer of its own (add hands g to both inputs)', () => {
    const job = graphJob(
      { params: { a: { shape: [2] }, b: { shape: [2] } }, nodes: [{ id: 'y', op: 'add', inputs: ['a', 'b'] }], output: 'y' },
      { params: { a: t64([2], [1, 2]), b: t64([2], [3, 4]) }, outputGrad: t64([2], [1, -1]) },
    );
    const r = gradients(job, LIMITS);
    expect(r.gradients.a!.data.buffer).not.toBe(r.gradients.b!.data.buffer);
    expectClose(r.gradients.a!, [1, -1]);
    expectClose(r.gradients.b!, [1, -1]);
  });

  it('initializes missing graph params deterministically and returns them', () => {
    const job = graphJob({ params: { w: { shape: [3], init: { scheme: 'normal', mean: 0, std: 1, seed: 4 } } }, nodes: [{ id: 'y', op: 'sum', inputs: ['w'] }], output: 'y' });
    const a = gradients(job, LIMITS);
    const b = gradients(job, LIMITS);
    expect(Array.from(a.params!.w!.data)).toEqual(Array.from(b.params!.w!.data));
    expectClose(a.gradients.w!, [1, 1, 1]);
  });
});
