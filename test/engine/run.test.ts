import { describe, expect, it } from 'vitest';
import { compile } from '../../src/engine/compile.js';
import type { GraphDef } from '../../src/engine/graph.js';
import { backwardFollows, type AnyOp } from '../../src/engine/op.js';
import { OPS } from '../../src/engine/ops/index.js';
import { linear } from '../../src/engine/ops/linear.js';
import { runBackward, runForward } from '../../src/engine/run.js';
import { scalar } from '../../src/engine/tensor.js';
import { expectClose, rand } from '../helpers/op-check.js';
import { LIMITS } from './helpers.js';

// x [4] → a = tanh(x) → b = a·w → c = sin(b) → L = sum(c); plus a branch d = exp(x) nobody reads
function chain(ops: ReadonlyMap<string, AnyOp> = OPS) {
  const def: GraphDef = {
    inputs: [{ name: 'x', shape: [4], path: ['inputs', 'x'] }],
    params: [{ name: 'w', shape: [4], path: ['params', 'w'] }],
    constants: [],
    nodes: [
      { id: 'a', op: 'tanh', inputs: ['x'] },
      { id: 'b', op: 'mul', inputs: ['a', 'w'] },
      { id: 'c', op: 'sin', inputs: ['b'] },
      { id: 'L', op: 'sum', inputs: ['c'] },
      { id: 'd', op: 'exp', inputs: ['x'] },
    ],
    nodePath: (i) => ['model', 'nodes', i],
    output: { id: 'L', path: ['model', 'output'] },
  };
  const g = compile(def, { ops, dtype: 'float64', limits: LIMITS });
  const s = (id: string) => g.slotOf.get(id)!;
  const leaves = new Map([[s('x'), rand([4], 1)], [s('w'), rand([4], 2)]]);
  return { g, s, leaves };
}

describe('memory: values and adjoints are dropped when no longer needed', () => {
  it('a forward-only pass keeps only its targets and skips what they do not need', () => {
    const { g, s, leaves } = chain();
    const values = runForward(g, leaves, { targets: [s('L')] });
    expect(values[s('L')]).toBeDefined();
    for (const id of ['a', 'b', 'c', 'd']) expect(values[s(id)], id).toBeUndefined();
  });

  it('a pass for backward keeps what the VJPs read; backward then drops values and node adjoints', () => {
    const { g, s, leaves } = chain();
    const gradLeaves = new Set([s('w')]);
    const values = runForward(g, leaves, { targets: [s('L')], backwardFrom: [s('L')], gradLeaves });
    for (const id of ['a', 'b', 'c']) expect(values[s(id)], id).toBeDefined();
    const L = values[s('L')]!;
    const adj = runBackward(g, values, s('L'), scalar(1, 'float64'), { gradLeaves });
    for (const id of ['a', 'b', 'c', 'L']) {
      expect(values[s(id)], id).toBeUndefined();
      expect(adj[s(id)], id).toBeUndefined();
    }
    // x takes no gradient: nothing flows to it
    expect(adj[s('x')]).toBeUndefined();
    // dL/dw = cos(tanh(x)·w)·tanh(x)
    const x = leaves.get(s('x'))!.data;
    const w = leaves.get(s('w'))!.data;
    expectClose(adj[s('w')]!, Array.from(x, (xi, i) => Math.cos(Math.tanh(xi) * w[i]!) * Math.tanh(xi)));
    expect(L.data[0]).toBeCloseTo(Array.from(x, (xi, i) => Math.sin(Math.tanh(xi) * w[i]!)).reduce((p, q) => p + q), 12);
  });
});

describe('one compiled graph, passes with different options', () => {
  it('each keeps and computes what its own options say, however they follow each other', () => {
    const { g, s, leaves } = chain();
    const x = leaves.get(s('x'))!.data;
    const w = leaves.get(s('w'))!.data;
    for (let round = 0; round < 2; round++) {
      const bare = runForward(g, leaves, { targets: [s('L')] });
      for (const id of ['a', 'b', 'c', 'd']) expect(bare[s(id)], id).toBeUndefined();
      const all = runForward(g, leaves, { targets: [s('L')], all: true });
      for (const id of ['a', 'b', 'c', 'd']) expect(all[s(id)], id).toBeDefined();
      for (const leaf of ['w', 'x']) {
        const gradLeaves = new Set([s(leaf)]);
        const values = runForward(g, leaves, { targets: [s('L')], backwardFrom: [s('L')], gradLeaves });
        expect(values[s('d')]).toBeUndefined();
        const adj = runBackward(g, values, s('L'), scalar(1, 'float64'), { gradLeaves });
        expect(adj[s(leaf === 'w' ? 'x' : 'w')]).toBeUndefined();
        // dL/dw = cos(tanh(x)·w)·tanh(x); dL/dx = cos(tanh(x)·w)·w·(1 − tanh²(x))
        const t = (i: number) => Math.tanh(x[i]!);
        const want = Array.from(x, (_, i) => Math.cos(t(i) * w[i]!) * (leaf === 'w' ? t(i) : w[i]! * (1 - t(i) ** 2)));
        expectClose(adj[s(leaf)]!, want);
      }
    }
  });
});

describe('backward tells each VJP which of its gradients reach a grad leaf', () => {
  // y = linear(x, W, b), L = sum(y), with linear's VJP recording the `needs` it is given
  function layer(seen: (readonly boolean[] | undefined)[]) {
    const spy: AnyOp = {
      ...linear,
      name: 'spy_linear',
      vjp: (ins, out, g, attrs, needs) => {
        seen.push(needs);
        return linear.vjp(ins, out, g, attrs, needs);
      },
    };
    const ops = new Map(OPS);
    ops.set(spy.name, spy);
    const def: GraphDef = {
      inputs: [{ name: 'x', shape: [2, 3], path: ['inputs', 'x'] }],
      params: [
        { name: 'W', shape: [4, 3], path: ['params', 'W'] },
        { name: 'b', shape: [4], path: ['params', 'b'] },
      ],
      constants: [],
      nodes: [
        { id: 'y', op: 'spy_linear', inputs: ['x', 'W', 'b'] },
        { id: 'L', op: 'sum', inputs: ['y'] },
      ],
      nodePath: (i) => ['model', 'nodes', i],
      output: { id: 'L', path: ['model', 'output'] },
    };
    const g = compile(def, { ops, dtype: 'float64', limits: LIMITS });
    const s = (id: string) => g.slotOf.get(id)!;
    const leaves = new Map([[s('x'), rand([2, 3], 1)], [s('W'), rand([4, 3], 2)], [s('b'), rand([4], 3)]]);
    const backward = (names: string[]) => {
      const gradLeaves = new Set(names.map(s));
      const values = runForward(g, leaves, { targets: [s('L')], backwardFrom: [s('L')], gradLeaves });
      return runBackward(g, values, s('L'), scalar(1, 'float64'), { gradLeaves });
    };
    return { s, leaves, backward };
  }

  it('a first layer is not asked for its input gradient unless the input is a grad leaf', () => {
    const seen: (readonly boolean[] | undefined)[] = [];
    const { s, leaves, backward } = layer(seen);
    const params = backward(['W', 'b']);
    expect(seen).toEqual([[false, true, true]]);
    expect(params[s('x')]).toBeUndefined();
    const all = backward(['x', 'W', 'b']);
    expect(seen[1]).toEqual([true, true, true]);
    expectClose(params[s('W')]!, all[s('W')]!.data);
    // dL/dx[r, i] = Σ_o W[o, i]
    const w = leaves.get(s('W'))!.data;
    const colSum = (i: number) => [0, 1, 2, 3].reduce((acc, o) => acc + w[o * 3 + i]!, 0);
    expectClose(all[s('x')]!, Array.from({ length: 6 }, (_, k) => colSum(k % 3)));
  });
});

describe('ops learn whether a backward pass will visit their node', () => {
  // the chain above, its tanh recording what backwardFollows() said during its forward pass
  function watched() {
    const seen: boolean[] = [];
    const tanh = OPS.get('tanh')!;
    const ops = new Map(OPS);
    ops.set('tanh', { ...tanh, forward: (ins, attrs) => (seen.push(backwardFollows()), tanh.forward(ins, attrs)) });
    return { ...chain(ops), seen };
  }

  it('yes when a gradient flows through it, no in a forward-only pass or when none does; yes again outside the runner', () => {
    const { g, s, leaves, seen } = watched();
    runForward(g, leaves, { targets: [s('L')] });
    // the gradient of x flows through tanh; w's does not
    runForward(g, leaves, { targets: [s('L')], backwardFrom: [s('L')], gradLeaves: new Set([s('x')]) });
    runForward(g, leaves, { targets: [s('L')], backwardFrom: [s('L')], gradLeaves: new Set([s('w')]) });
    expect(seen).toEqual([false, true, false]);
    expect(backwardFollows()).toBe(true);
  });
});
