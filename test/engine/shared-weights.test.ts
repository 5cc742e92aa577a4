import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/evaluate.js';
import { gradcheck, GradcheckConfigSchema } from '../../src/engine/index.js';
import { buildModel } from '../../src/engine/model.js';
import { buildRegistry, type AnyOp } from '../../src/engine/op.js';
import { ALL_OPS } from '../../src/engine/ops/index.js';
import { rand } from '../helpers/op-check.js';
import { graphJob, LIMITS, options } from './helpers.js';

// A weight read by many products. From its third reader on (once the engine owns the gradient summed
// so far), matmul and linear add their products' gradients straight into that sum with beta = 1
// (OpSpec.vjp `into`), with no separate gradient and no pass to add it. The answers must be those of
// backpropagation without it, and of finite differences.

const W = [3, 3];
// W used by: a tanh chain of products (both sides of the product: x·W, and W as a left operand),
// W·W (the same value twice in one node), a batch of products broadcasting W, a matrix–vector
// product, and two linear layers (W as [out, in], and x for the second one is a product of W too).
const nodes = [
  { id: 'h0', op: 'matmul', inputs: ['x', 'W'] },
  { id: 't0', op: 'tanh', inputs: ['h0'] },
  { id: 'h1', op: 'matmul', inputs: ['t0', 'W'] },
  { id: 't1', op: 'tanh', inputs: ['h1'] },
  { id: 'h2', op: 'matmul', inputs: ['W', 't1'] , note: 'W as the left operand: [3,3]·[3,4] needs t1ᵀ' },
  { id: 'ww', op: 'matmul', inputs: ['W', 'W'] },
  { id: 'bt', op: 'matmul', inputs: ['xb', 'W'] },
  { id: 'mv', op: 'matmul', inputs: ['W', 'v'] },
  { id: 'l1', op: 'linear', inputs: ['t1', 'W', 'b'] },
  { id: 'l2', op: 'linear', inputs: ['l1', 'W'] },
  { id: 's0', op: 'sum', inputs: ['ww'] },
  { id: 's1', op: 'sum', inputs: ['bt'] },
  { id: 's2', op: 'sum', inputs: ['mv'] },
  { id: 's3', op: 'sum', inputs: ['l2'] },
  { id: 's4', op: 'sum', inputs: ['h2'] },
  { id: 'a0', op: 'add', inputs: ['s0', 's1'] },
  { id: 'a1', op: 'add', inputs: ['a0', 's2'] },
  { id: 'a2', op: 'add', inputs: ['a1', 's3'] },
  { id: 'L', op: 'add', inputs: ['a2', 's4'] },
].map(({ note: _note, ...n }) => n);

function job(dtype: 'float32' | 'float64') {
  return graphJob(
    { inputs: ['x', 'xb', 'v'], params: { W: { shape: W }, b: { shape: [3] } }, nodes, output: 'L' },
    {
      inputs: { x: rand([3, 3], 1), xb: rand([2, 4, 3], 2), v: rand([3], 3) },
      params: { W: rand(W, 4, -0.8, 0.8), b: rand([3], 5) },
      options: options({ dtype }),
    },
  );
}

/** The registry with matmul and linear ignoring `into`: every gradient separate, summed by the engine. */
const withoutInto = buildRegistry(
  ALL_OPS.map((op): AnyOp => (op.name === 'matmul' || op.name === 'linear' ? { ...op, vjp: (i, o, g, a, needs) => op.vjp(i, o, g, a, needs) } : op)),
);
const withInto = buildRegistry(ALL_OPS);

describe('a weight shared by many products', () => {
  it('gets the gradient backpropagation without in-place accumulation gives, in float64 and float32', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const run = (ops: typeof withInto) => evaluate(buildModel(job(dtype), LIMITS, { ops }), { backward: true });
      const [a, b] = [run(withInto), run(withoutInto)];
      expect(a.loss).toBe(b.loss);
      for (const name of ['W', 'b']) {
        const [x, y] = [Array.from(a.gradients[name]!.data), Array.from(b.gradients[name]!.data)];
        const tol = dtype === 'float64' ? 1e-12 : 1e-5;
        x.forEach((v, i) => expect(Math.abs(v - y[i]!), `${dtype} d${name}[${i}]`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(y[i]!))));
      }
    }
  });

  it('matches central finite differences', () => {
    const r = gradcheck(job('float64'), GradcheckConfigSchema.parse({ maxElementsPerParam: 9 }), LIMITS);
    expect(r.passed, JSON.stringify(r.params)).toBe(true);
    expect(r.params.W!.checked).toBe(9);
  });

  it('is accumulated in place: once the engine owns the sum so far, the later products add into it', () => {
    const calls: boolean[] = [];
    const spying = buildRegistry(
      ALL_OPS.map((op): AnyOp =>
        op.name === 'matmul' || op.name === 'linear'
          ? { ...op, vjp: (i, o, g, a, needs, into) => (calls.push(into?.some((t) => t !== undefined) ?? false), op.vjp(i, o, g, a, needs, into)) }
          : op,
      ),
    );
    evaluate(buildModel(job('float64'), LIMITS, { ops: spying }), { backward: true });
    // eight nodes read W (W·W twice). The first gradient to arrive is adopted as it is, the second summed
    // into a copy the engine owns; every later one goes in place: at least six of the eight.
    expect(calls.length).toBe(8);
    expect(calls.filter(Boolean).length).toBeGreaterThanOrEqual(6);
  });
});
