import { describe, expect, it } from 'vitest';
import { compile } from '../../src/engine/compile.js';
import type { GraphDef } from '../../src/engine/graph.js';
import { OPS } from '../../src/engine/ops/index.js';
import { runBackward, runForward } from '../../src/engine/run.js';
import { scalar } from '../../src/engine/tensor.js';
import { expectClose, rand } from '../helpers/op-check.js';
import { LIMITS } from './helpers.js';

// x [4] → a = tanh(x) → b = a·w → c = sin(b) → L = sum(c); plus a branch d = exp(x) nobody reads
function chain() {
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
  const g = compile(def, { ops: OPS, dtype: 'float64', limits: LIMITS });
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
