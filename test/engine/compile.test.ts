import { describe, expect, it } from 'vitest';
import type { GradientsJob, Limits } from '../../src/engine/api.js';
import { LimitError, SpecError, type Path } from '../../src/engine/errors.js';
import { forward, gradients } from '../../src/engine/index.js';
import { t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, s64, twoWeightJob } from './helpers.js';

/** The issues of the SpecError that `run` throws. */
function issues(run: () => unknown): { path: Path; message: string }[] {
  try {
    run();
  } catch (err) {
    if (err instanceof SpecError) return err.issues;
    throw err;
  }
  throw new Error('expected a SpecError');
}

const fails = (job: GradientsJob, limits: Limits = LIMITS) => issues(() => gradients(job, limits));

describe('graph compilation errors name their path', () => {
  const base = { params: { w: { shape: [3] } }, inputs: ['x'] };
  const vals = { params: { w: t64([3], [1, 2, 3]) }, inputs: { x: t64([3], [1, 1, 1]) } };

  it('duplicate ids, and ids clashing with params or inputs', () => {
    const got = fails(
      graphJob(
        { ...base, nodes: [{ id: 'a', op: 'mul', inputs: ['w', 'x'] }, { id: 'a', op: 'sum', inputs: ['a'] }, { id: 'w', op: 'sum', inputs: ['a'] }], output: 'a' },
        vals,
      ),
    );
    expect(got.map((i) => i.path)).toEqual([
      ['model', 'nodes', 1, 'id'],
      ['model', 'nodes', 2, 'id'],
    ]);
    expect(got[1]!.message).toMatch(/already the id of a param/);
  });

  it('unknown references, unknown ops, arity and attrs', () => {
    const got = fails(
      graphJob(
        {
          ...base,
          nodes: [
            { id: 'a', op: 'mul', inputs: ['w', 'nope'] },
            { id: 'b', op: 'frobnicate', inputs: ['w'] },
            { id: 'c', op: 'mul', inputs: ['w'] },
            { id: 'd', op: 'softmax', inputs: ['w'], attrs: { axis: 'last' } },
            { id: 'e', op: 'sum', inputs: ['w'], attrs: { keepdim: true } },
          ],
          output: 'a',
        },
        vals,
      ),
    );
    expect(got.map((i) => i.path)).toEqual([
      ['model', 'nodes', 0, 'inputs', 1],
      ['model', 'nodes', 1, 'op'],
      ['model', 'nodes', 2, 'inputs'],
      ['model', 'nodes', 3, 'attrs', 'axis'],
      ['model', 'nodes', 4, 'attrs', 'keepdim'],
    ]);
    expect(got[0]!.message).toMatch(/unknown reference "nope"/);
    expect(got[1]!.message).toMatch(/unknown op "frobnicate"/);
    expect(got[2]!.message).toMatch(/mul takes 2 inputs, got 1/);
  });

  it('cycles, each reported once at the input that closes it', () => {
    const got = fails(
      graphJob(
        {
          ...base,
          nodes: [
            { id: 'a', op: 'mul', inputs: ['c', 'x'] },
            { id: 'b', op: 'mul', inputs: ['a', 'w'] },
            { id: 'c', op: 'neg', inputs: ['b'] },
            { id: 'self', op: 'mul', inputs: ['x', 'self'] },
            { id: 'down', op: 'sum', inputs: ['c'] },
          ],
          output: 'down',
        },
        vals,
      ),
    );
    expect(got).toEqual([
      { path: ['model', 'nodes', 0, 'inputs', 0], message: expect.stringMatching(/cycle: a → b → c → a/) },
      { path: ['model', 'nodes', 3, 'inputs', 1], message: expect.stringMatching(/cycle: self → self/) },
    ]);
  });

  it('shape mismatches at the input the shape rule names, else at the node', () => {
    const got = fails(
      graphJob(
        {
          params: { w: { shape: [3] }, m: { shape: [2, 5] } },
          inputs: ['x'],
          nodes: [
            { id: 'a', op: 'mul', inputs: ['w', 'x'] },
            { id: 'b', op: 'matmul', inputs: ['m', 'w'] },
            { id: 'c', op: 'sum', inputs: ['a'] },
          ],
          output: 'c',
        },
        { params: { w: t64([3], [1, 2, 3]), m: t64([2, 5], () => 1) }, inputs: { x: t64([4], [1, 1, 1, 1]) } },
      ),
    );
    expect(got.map((i) => i.path)).toEqual([
      ['model', 'nodes', 0, 'inputs', 1],
      ['model', 'nodes', 1, 'inputs', 1],
    ]);
    expect(got[0]!.message).toMatch(/broadcast/);
  });

  it('a missing output', () => {
    const got = fails(graphJob({ ...base, nodes: [{ id: 'a', op: 'mul', inputs: ['w', 'x'] }], output: 'zz' }, vals));
    expect(got.map((i) => i.path)).toEqual([['model', 'output']]);
  });

  it('non-finite number literals', () => {
    const got = fails(graphJob({ ...base, nodes: [{ id: 'a', op: 'mul', inputs: ['w', Number.NaN] }], output: 'a' }, vals));
    expect(got.map((i) => i.path)).toEqual([['model', 'nodes', 0, 'inputs', 1]]);
  });

  it('request data: params of the wrong shape or unknown, inputs missing or undeclared', () => {
    const model = { ...base, nodes: [{ id: 'a', op: 'mul', inputs: ['w', 'x'] }, { id: 'L', op: 'sum', inputs: ['a'] }], output: 'L' };
    expect(fails(graphJob(model, { ...vals, params: { w: t64([2], [1, 2]), v: s64(1) } })).map((i) => i.path)).toEqual([
      ['params', 'w'],
      ['params', 'v'],
    ]);
    expect(fails(graphJob(model, { ...vals, inputs: { y: s64(1) } })).map((i) => i.path)).toEqual([
      ['inputs', 'x'],
      ['inputs', 'y'],
    ]);
  });

  it('loss problems: targets of the wrong shape, attrs the loss op does not take, missing targets', () => {
    const model = { ...base, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 'x'] }], output: 'y' };
    expect(fails(graphJob(model, { ...vals, loss: { type: 'mse', reduction: 'mean' }, targets: t64([2], [1, 2]) })).map((i) => i.path)).toEqual([
      ['targets'],
    ]);
    expect(fails(graphJob(model, { ...vals, loss: { type: 'mse', reduction: 'mean', delta: 2 }, targets: t64([3], [1, 2, 3]) })).map((i) => i.path)).toEqual([
      ['loss', 'delta'],
    ]);
    expect(fails(graphJob(model, { ...vals, loss: { type: 'mse', reduction: 'mean' } })).map((i) => i.path)).toEqual([['targets']]);
  });

  it('loss class weights: one per class, for cross_entropy and nll only, named at loss.weight', () => {
    const model = { inputs: ['x'], nodes: [{ id: 'y', op: 'mul', inputs: ['x', 1] }], output: 'y' };
    const job = (loss: object) => graphJob(model, { inputs: { x: t64([2, 3], () => 0.5) }, loss: { reduction: 'mean', ...loss } as never, targets: t64([2], [0, 2]) });
    const wrong = fails(job({ type: 'cross_entropy', weight: [1, 2] }));
    expect(wrong).toEqual([{ path: ['loss', 'weight'], message: 'cross_entropy_loss: the class weight must have shape [3] (one per class), got [2]' }]);
    expect(fails(job({ type: 'mse', weight: [1, 2, 3] }))).toEqual([{ path: ['loss', 'weight'], message: 'class weights go with the cross_entropy and nll losses, not mse' }]);
    // uniform logits: the loss is log 3 whatever the weights, as torch
    expect(gradients(job({ type: 'cross_entropy', weight: [1, 2, 3] }), LIMITS).loss).toBeCloseTo(Math.log(3), 12);
  });

  it('value errors of an op name the node input (bad class index as a target)', () => {
    const model = { inputs: ['x'], nodes: [{ id: 'y', op: 'mul', inputs: ['x', 1] }], output: 'y' };
    const job = graphJob(model, { inputs: { x: t64([2, 3], () => 0.5) }, loss: { type: 'cross_entropy', reduction: 'mean' }, targets: t64([2], [0, 7]) });
    expect(fails(job).map((i) => i.path)).toEqual([['targets']]);
    const inGraph = graphJob(
      { inputs: ['x', 't'], nodes: [{ id: 'L', op: 'nll_loss', inputs: ['x', 't'] }], output: 'L' },
      { inputs: { x: t64([2, 3], () => 0.5), t: t64([2], [0, 3]) } },
    );
    expect(fails(inGraph).map((i) => i.path)).toEqual([['model', 'nodes', 0, 'inputs', 1]]);
    // the op's own message already names it: said once, not "nll_loss: nll_loss: ..."
    expect(fails(inGraph)[0]!.message).toBe('nll_loss: class index 3 at target[1] is out of range [0, 3) and is not ignoreIndex -100');
  });

  it('reports many independent problems at once, but not without bound', () => {
    const nodes = Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, op: 'mul', inputs: ['w', `missing${i}`] }));
    const got = fails(graphJob({ ...base, nodes, output: 'n0' }, vals));
    expect(got.length).toBe(50);
    expect(got[49]!.message).toMatch(/150 more/);
  });
});

describe('limits', () => {
  it('refuses too many nodes before building anything', () => {
    const nodes = Array.from({ length: 11 }, (_, i) => ({ id: `n${i}`, op: 'neg', inputs: [i === 0 ? 'x' : `n${i - 1}`] }));
    const job = graphJob({ inputs: ['x'], nodes, output: 'n10' }, { inputs: { x: s64(1) } });
    expect(() => forward(job, { maxNodes: 10, maxElements: 1e6 })).toThrow(LimitError);
    expect(() => forward(job, { maxNodes: 11, maxElements: 1e6 })).not.toThrow();
  });

  it('counts data, params, constants and every node value against maxElements, before allocating', () => {
    // x, t, w1, w2 and the nodes h, y, L: 7 scalars
    expect(() => gradients(twoWeightJob(), { maxNodes: 10, maxElements: 6 })).toThrow(LimitError);
    expect(() => gradients(twoWeightJob(), { maxNodes: 10, maxElements: 7 })).not.toThrow();
    // a huge param is refused from its declared shape, never drawn
    const job = graphJob({ params: { w: { shape: [1e5, 1e5] } }, nodes: [{ id: 's', op: 'sum', inputs: ['w'] }], output: 's' });
    expect(() => gradients(job, LIMITS)).toThrow(/over the limit/);
  });
});
