import { describe, expect, it } from 'vitest';
import { log1pExp, sigmoid } from '../../../src/engine/math/logistic.js';

function expectRelative(actual: number, expected: number, tol = 1e-15): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(tol * Math.abs(expected));
}

describe('sigmoid', () => {
  it('matches reference values (mpmath, 40 digits), tiny results included', () => {
    expect(sigmoid(0)).toBe(0.5);
    expectRelative(sigmoid(1), 0.7310585786300049);
    expectRelative(sigmoid(-1), 0.2689414213699951);
    expectRelative(sigmoid(-30), 9.357622968839299e-14);
    expectRelative(sigmoid(-700), 9.85967654375977e-305);
    expectRelative(sigmoid(30), 0.9999999999999064);
  });

  it('saturates without overflow or NaN at |x| = 1e3', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
  });
});

describe('log1pExp', () => {
  it('matches reference values (mpmath, 40 digits) on both tails', () => {
    expectRelative(log1pExp(0), Math.LN2);
    expectRelative(log1pExp(1), 1.3132616875182228);
    expectRelative(log1pExp(-30), 9.357622968839737e-14);
    expectRelative(log1pExp(30), 30.000000000000092);
  });

  it('neither overflows nor loses the linear part at |x| = 1e3', () => {
    expect(log1pExp(1000)).toBe(1000);
    expect(log1pExp(-1000)).toBe(0);
  });
});
