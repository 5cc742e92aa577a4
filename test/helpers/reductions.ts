import { expect } from 'vitest';
import type { AnyOp } from '../../src/engine/op.js';
import { checkVjp, expectClose, t64 } from './op-check.js';

/**
 * torch reduces a 0-d tensor over axis 0 or -1 (its one lane) to a 0-d tensor, with keepdims or not
 * (torch.sum(torch.tensor(3.), 0, keepdim=True).shape == ()); [0, -1] names that axis twice and axis 1 is
 * out of range, errors there as here. `expected` is the op's value at the 0-d `x`.
 */
export function checkZeroDimAxes(op: AnyOp, x: number, expected: number): void {
  for (const axes of [0, -1, [0], [-1]]) {
    for (const keepdims of [false, true]) {
      const attrs = op.parseAttrs({ axes, keepdims });
      expect(op.shape([[]], attrs)).toEqual([]);
      const y = op.forward([t64([], [x])], attrs);
      expect(y.shape).toEqual([]);
      expectClose(y, [expected]);
      checkVjp(op, [t64([], [x])], { axes, keepdims });
    }
  }
  expect(() => op.shape([[]], op.parseAttrs({ axes: [0, -1] }))).toThrow(/axis 0 appears more than once in \[0, -1\]/);
  expect(() => op.shape([[]], op.parseAttrs({ axes: 1 }))).toThrow('axis 1 is out of range for shape [] (expected -1 … 0)');
}
