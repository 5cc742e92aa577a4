import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/engine/errors.js';
import { EXPLAIN_LIMITS, ExplainResultSchema, explain } from '../../src/engine/index.js';
import { t64 } from '../helpers/op-check.js';
import { graphJob, LIMITS, s64, twoWeightJob } from './helpers.js';

describe('explain', () => {
  it('writes the two-weight chain as products of local derivatives', () => {
    const r = explain(twoWeightJob(), LIMITS);
    expect(ExplainResultSchema.parse(r)).toEqual(r);
    expect(r.loss).toBe(6.25);
    expect(r.scalar).toBe(true);
    const w1 = r.gradients.find((g) => g.param === 'w1')!;
    expect(w1.formula).toBe('dL/dw1 = dL/dy · dy/dh · dh/dw1 = (−5)·(−1.5)·(2) = 15');
    expect(w1.paths).toEqual([{ nodes: ['L', 'y', 'h', 'w1'], factors: [-5, -1.5, 2], product: 15 }]);
    expect(w1.gradient).toBe(15);
    expect(w1.backprop).toBe(15);
    const w2 = r.gradients.find((g) => g.param === 'w2')!;
    expect(w2.formula).toBe('dL/dw2 = dL/dy · dy/dw2 = (−5)·(1) = −5');
  });

  it('lists leaves then nodes in topological order with values, adjoints and local derivatives', () => {
    const r = explain(twoWeightJob(), LIMITS);
    expect(r.nodes.map((n) => n.id)).toEqual(['x', 't', 'w1', 'w2', 'h', 'y', 'L']);
    const y = r.nodes.find((n) => n.id === 'y')!;
    expect(y).toMatchObject({ kind: 'node', op: 'mul', value: -1.5, adjoint: -5 });
    expect(y.edges).toEqual([
      { input: 0, from: 'w2', local: 1, shape: [] },
      { input: 1, from: 'h', local: -1.5, shape: [] },
    ]);
    expect(r.nodes.find((n) => n.id === 'x')).toMatchObject({ kind: 'input', value: 2, adjoint: 3.75, edges: [] });
  });

  it('sums over paths where a value is used twice', () => {
    const job = graphJob(
      { params: { x: { shape: [] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['x', 'x'] }, { id: 'z', op: 'mul', inputs: ['y', 'x'] }], output: 'z' },
      { params: { x: s64(2) } },
    );
    const x = explain(job, LIMITS).gradients[0]!;
    // z = x³: three paths, z→x directly (y = 4) and z→y→x twice (x·x, each 2·2)
    expect(x.paths.map((p) => p.nodes)).toEqual([
      ['z', 'y', 'x'],
      ['z', 'y', 'x'],
      ['z', 'x'],
    ]);
    expect(x.formula).toBe('dz/dx = dz/dy · ∂y/∂x (as input 0 of y) + dz/dy · ∂y/∂x (as input 1 of y) + ∂z/∂x = (2)·(2) + (2)·(2) + (4) = 12');
    expect(x.gradient).toBe(12);
  });

  it('names the two edges of a node that reads one value twice, so its gradient is not written as dL/dw + dL/dw', () => {
    const job = graphJob({ params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: ['w', 'w'] }], output: 'L' }, { params: { w: s64(3) } });
    const { gradients, dot } = explain(job, LIMITS);
    const w = gradients[0]!;
    expect(w.formula).toBe('dL/dw = ∂L/∂w (as input 0 of L) + ∂L/∂w (as input 1 of L) = (3) + (3) = 6');
    expect(dot).toContain('"w" -> "L" [label="∂ (input 0) = 3"];');
    expect(dot).toContain('"w" -> "L" [label="∂ (input 1) = 3"];');
    expect(w.paths).toEqual([
      { nodes: ['L', 'w'], factors: [3], product: 3 },
      { nodes: ['L', 'w'], factors: [3], product: 3 },
    ]);
    expect([w.gradient, w.backprop]).toEqual([6, 6]);
  });

  it('writes the output\'s own edge to the parameter as a partial, not as the gradient it is a share of', () => {
    const job = graphJob({ params: { w: { shape: [] } }, nodes: [{ id: 'L', op: 'mul', inputs: ['w', 3] }], output: 'L' }, { params: { w: s64(2) } });
    expect(explain(job, LIMITS).gradients[0]!.formula).toBe('dL/dw = ∂L/∂w = (3) = 3');
  });

  it('cut short at its limit of paths, the formula ends in the gradient backpropagation gives, not the listed paths\' sum', () => {
    // y7 = x^128 by squaring seven times: 2^7 paths, each of product 1 at x = 1, dy7/dx = 128
    const nodes = Array.from({ length: 7 }, (_, i) => ({ id: `y${i + 1}`, op: 'mul', inputs: [i === 0 ? 'x' : `y${i}`, i === 0 ? 'x' : `y${i}`] }));
    const x = explain(graphJob({ params: { x: { shape: [] } }, nodes, output: 'y7' }, { params: { x: s64(1) } }), LIMITS).gradients[0]!;
    expect(x.truncated).toBe(true);
    expect(x.paths).toHaveLength(EXPLAIN_LIMITS.maxPathsPerParam);
    expect([x.gradient, x.backprop]).toEqual([64, 128]);
    expect(x.formula).toMatch(/ \+ … = 128 \(backpropagation; the 64 paths listed add up to 64\)$/);
  });

  it('gives Jacobians for tensor edges, from one-hot VJPs', () => {
    const job = graphJob(
      { inputs: ['x'], params: { w: { shape: [2] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 'x'] }, { id: 'L', op: 'sum', inputs: ['y'] }], output: 'L' },
      { inputs: { x: t64([2], [3, 5]) }, params: { w: t64([2], [1, 2]) } },
    );
    const r = explain(job, LIMITS);
    expect(r.scalar).toBe(false);
    expect(r.gradients).toEqual([]);
    const y = r.nodes.find((n) => n.id === 'y')!;
    expect(y.edges[0]).toEqual({ input: 0, from: 'w', local: [[3, 0], [0, 5]], shape: [2, 2] });
    expect(r.nodes.find((n) => n.id === 'L')!.edges[0]!.local).toEqual([1, 1]);
    expect(r.nodes.find((n) => n.id === 'w')!.adjoint).toEqual([3, 5]);
  });

  it('names the appended loss L and shows literals by value', () => {
    const job = graphJob(
      { params: { w: { shape: [] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 3] }], output: 'y' },
      { params: { w: s64(2) }, loss: { type: 'mse', reduction: 'mean' }, targets: s64(1) },
    );
    const r = explain(job, LIMITS);
    expect(r.nodes.map((n) => n.id)).toEqual(['targets', 'w', 'y', 'L']);
    expect(r.nodes.find((n) => n.id === 'y')!.edges[1]).toMatchObject({ from: '3', local: 2 });
    expect(r.gradients[0]!.formula).toBe('dL/dw = dL/dy · dy/dw = (10)·(3) = 30');
  });

  it('names the loss spec\'s class weights "weight", a constant without gradient', () => {
    const job = graphJob(
      { params: { w: { shape: [2, 3] } }, nodes: [{ id: 'y', op: 'mul', inputs: ['w', 2] }], output: 'y' },
      { params: { w: t64([2, 3], [0.5, -1, 0, 1, 0.25, 2]) }, loss: { type: 'cross_entropy', reduction: 'mean', weight: [1, 2, 0.5] }, targets: t64([2], [2, -100]) },
    );
    const r = explain(job, LIMITS);
    expect(r.nodes.map((n) => n.id)).toEqual(['targets', 'w', 'weight', 'y', 'L']);
    expect(r.nodes.find((n) => n.id === 'L')!.edges.map((e) => [e.from, e.local === null])).toEqual([['y', false], ['targets', true], ['weight', true]]);
  });

  it('writes Graphviz DOT with ops, values and gradients', () => {
    const { dot } = explain(twoWeightJob(), LIMITS);
    expect(dot.startsWith('digraph G {')).toBe(true);
    expect(dot).toContain('"h" [label="h = mul\\nvalue = 1\\ngrad = 7.5", shape=box];');
    expect(dot).toContain('"w1" -> "h" [label="∂ = 2"];');
    expect(dot.trimEnd().endsWith('}')).toBe(true);
  });

  it('refuses graphs over its limits', () => {
    const nodes = Array.from({ length: EXPLAIN_LIMITS.maxNodes + 1 }, (_, i) => ({ id: `n${i}`, op: 'neg', inputs: [i === 0 ? 'w' : `n${i - 1}`] }));
    const deep = graphJob({ params: { w: { shape: [] } }, nodes, output: `n${EXPLAIN_LIMITS.maxNodes}` }, { params: { w: s64(1) } });
    expect(() => explain(deep, LIMITS)).toThrow(LimitError);
    const wide = graphJob({ params: { w: { shape: [300] } }, nodes: [{ id: 'e', op: 'exp', inputs: ['w'] }, { id: 'L', op: 'sum', inputs: ['e'] }], output: 'L' });
    expect(() => explain(wide, LIMITS)).toThrow(/Jacobians/);
  });
});
