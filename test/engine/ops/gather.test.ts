import { describe, expect, it } from 'vitest';
import { OpValueError } from '../../../src/engine/op.js';
import { gather } from '../../../src/engine/ops/gather.js';
import { ShapeError, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

// Reference values: torch 1.13, float64, torch.gather(x, dim, index) with x = arange(12).reshape(3, 4)
// and (y * g).sum().backward()
const x = t64([3, 4], (i) => i);
const run = (axis: number, index: number[][], g: number[]) => {
  const idx = t64([index.length, index[0]!.length], index.flat());
  const attrs = gather.parseAttrs({ axis });
  const y = gather.forward([x, idx], attrs);
  return { y, grads: gather.vjp([x, idx], y, t64(y.shape, g), attrs) };
};

describe('gather', () => {
  it('picks along axis 1 in the index\'s shape, which may be smaller off the axis, as torch.gather', () => {
    const { y, grads } = run(1, [[0, 3, 3], [1, 1, 0]], [1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([2, 3]);
    expectClose(y, [0, 3, 3, 5, 5, 4]);
    // an element picked twice gets both gradients
    expectClose(grads[0]!, [1, 0, 0, 5, 6, 9, 0, 0, 0, 0, 0, 0]);
    expect(grads[1]).toBeNull();
    expect(gather.nonDifferentiable).toEqual([1]);
  });

  it('picks along axis 0 and a negative axis', () => {
    const { y, grads } = run(0, [[2, 0, 1, 2]], [1, 2, 3, 4]);
    expectClose(y, [8, 1, 6, 11]);
    expectClose(grads[0]!, [0, 2, 0, 0, 0, 0, 3, 0, 1, 0, 0, 4]);
    expectClose(run(-1, [[0, 3, 3], [1, 1, 0]], [1, 2, 3, 4, 5, 6]).y, [0, 3, 3, 5, 5, 4]);
  });

  it('takes a 0-d input with a 0-d index, and computes in float32', () => {
    expectClose(gather.forward([t64([], [5]), t64([], [0])], gather.parseAttrs({ axis: 0 })), [5]);
    const y = gather.forward([tensor([3, 4], x.data, 'float32'), tensor([1, 2], [3, 1], 'float32')], gather.parseAttrs({ axis: 1 }));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [3, 1]);
  });

  it('refuses an index of another rank or larger off the axis, and a bad axis', () => {
    const attrs = gather.parseAttrs({ axis: 1 });
    expect(gather.shape([[3, 4], [3, 7]], attrs)).toEqual([3, 7]);
    expect(() => gather.shape([[3, 4], [4, 2]], attrs)).toThrow(
      new ShapeError('gather: index [4, 2] must have the rank of the input [3, 4] and be no larger off axis 1', 1),
    );
    expect(() => gather.shape([[3, 4], [3]], attrs)).toThrow(ShapeError);
    expect(() => gather.shape([[3, 4], [3, 4]], gather.parseAttrs({ axis: 2 }))).toThrow(/axis 2 is out of range/);
    expect(() => gather.parseAttrs({})).toThrow();
  });

  it('refuses an index out of range or not an integer, naming its position', () => {
    const attrs = gather.parseAttrs({ axis: 1 });
    expect(() => gather.forward([x, t64([1, 2], [0, 4])], attrs)).toThrow(new OpValueError('gather: index 4 at index[0, 1] is out of range [0, 4)', 1));
    expect(() => gather.forward([x, t64([1, 2], [-1, 0])], attrs)).toThrow('gather: index -1 at index[0, 0] is out of range [0, 4)');
    expect(() => gather.forward([x, t64([1, 1], [0.5])], attrs)).toThrow('gather: index[0, 0] = 0.5 is not an integer index');
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(gather, [rand([3, 4], 1), t64([2, 3], [0, 3, 3, 1, 1, 0])], { axis: 1 });
    checkVjp(gather, [rand([2, 3, 2], 2), t64([2, 4, 1], [0, 2, 2, 1, 1, 1, 0, 2])], { axis: -2 });
    checkVjp(gather, [rand([], 3), t64([], [0])], { axis: -1 });
  });
});
