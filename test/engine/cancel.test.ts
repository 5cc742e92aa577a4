import { describe, expect, it } from 'vitest';
import { Cancelled, cancellable, gradients } from '../../src/engine/index.js';
import { LIMITS, twoWeightJob } from './helpers.js';

// Cooperative cancellation: the passes ask between nodes whether to stop.

describe('cancellable', () => {
  it('stops a computation between two nodes once asked, forward or backward', () => {
    // the two-weight chain has 3 nodes: checks 1–3 are the forward pass, 4–6 the backward pass
    for (const stopAt of [1, 3, 4, 6]) {
      let checks = 0;
      expect(() => cancellable(() => ++checks >= stopAt, () => gradients(twoWeightJob(), LIMITS))).toThrow(Cancelled);
      expect(checks).toBe(stopAt);
    }
  });

  it('runs to the end when never asked, and only inside its call', () => {
    let checks = 0;
    const r = cancellable(() => (checks++, false), () => gradients(twoWeightJob(), LIMITS));
    expect(Array.from(r.gradients.w1!.data)).toEqual([15]);
    expect(checks).toBe(6);
    // outside, nothing asks: a stop that would always say yes is not consulted
    expect(Array.from(gradients(twoWeightJob(), LIMITS).gradients.w2!.data)).toEqual([-5]);
  });

  it('restores the outer request when a nested call ends', () => {
    let outer = 0;
    expect(() =>
      cancellable(
        () => ++outer > 3,
        () => {
          cancellable(() => false, () => gradients(twoWeightJob(), LIMITS));
          return gradients(twoWeightJob(), LIMITS);
        },
      ),
    ).toThrow(Cancelled);
    expect(outer).toBe(4);
  });
});
