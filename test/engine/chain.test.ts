import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/engine/errors.js';
import { gradients } from '../../src/engine/index.js';
import { graphJob, s64 } from './helpers.js';

// A 300,000-node chain: the sort, the forward and the backward walk must all be iterative.
const N = 300_000;
const C = 1 + 1e-6;

function chainJob() {
  // n_i = n_{i-1} + 0.5 for even i, n_{i-1} · C for odd i; listed last-to-first, so the sort has work to do
  const nodes = Array.from({ length: N }, (_, j) => {
    const i = N - 1 - j;
    const prev = i === 0 ? 'x' : `n${i - 1}`;
    return i % 2 === 0 ? { id: `n${i}`, op: 'add', inputs: [prev, 0.5] } : { id: `n${i}`, op: 'mul', inputs: [prev, C] };
  });
  return graphJob({ params: { x: { shape: [] } }, nodes, output: `n${N - 1}` }, { params: { x: s64(1) } });
}

describe('a 300,000-node chain', () => {
  it('runs forward and backward', () => {
    let value = 1;
    let grad = 1;
    for (let i = 0; i < N; i++) {
      if (i % 2 === 0) value += 0.5;
      else {
        value *= C;
        grad *= C;
      }
    }
    const r = gradients(chainJob(), { maxNodes: N, maxElements: 10 * N });
    expect(r.loss).toBeCloseTo(value, 6);
    expect(r.gradients.x!.data[0]).toBeCloseTo(grad, 9);
  });

  it('is refused by the node limit before anything is built', () => {
    expect(() => gradients(chainJob(), { maxNodes: N - 1, maxElements: 10 * N })).toThrow(LimitError);
  });
});
