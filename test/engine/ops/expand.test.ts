import { describe, expect, it } from 'vitest';
import { expand } from '../../../src/engine/ops/expand.js';
import { ShapeError, sumToShape, tensor } from '../../../src/engine/tensor.js';
import { checkVjp, expectClose, rand, t64 } from '../../helpers/op-check.js';

describe('expand', () => {
  const run = (shape: number[], x = t64([3, 1], [1, 2, 3])) => expand.forward([x], expand.parseAttrs({ shape }));

  it('repeats size-1 dimensions and adds leading ones, -1 keeping a size, as torch.Tensor.expand', () => {
    const y = run([3, 4]);
    expect(y.shape).toEqual([3, 4]);
    expectClose(y, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(run([2, -1, 2]).shape).toEqual([2, 3, 2]);
    expectClose(run([2, -1, 2]), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expect(run([3, 0]).shape).toEqual([3, 0]);
    expectClose(expand.forward([t64([], [7])], expand.parseAttrs({ shape: [2, 2] })), [7, 7, 7, 7]);
    expect(run([-1, -1]).shape).toEqual([3, 1]);
  });

  it('refuses what torch refuses: fewer dims, a non-1 dim changed, -1 in a new leading dim', () => {
    const shape = (s: number[]) => expand.shape([[3, 1]], expand.parseAttrs({ shape: s }));
    expect(() => shape([4])).toThrow(new ShapeError('expand: shape [4] has fewer dimensions than the input [3, 1]'));
    expect(() => shape([4, 4])).toThrow('expand: dimension 0 of the input [3, 1] is 3, not 1, so it cannot become 4');
    expect(() => shape([-1, 3, 4])).toThrow(/-1 at dimension 0 of \[-1, 3, 4\] is a new leading dimension/);
    expect(() => expand.parseAttrs({ shape: [-2] })).toThrow();
  });

  it('returns g for the engine to sum back over the broadcast dimensions', () => {
    const x = t64([3, 1], [1, 2, 3]);
    const attrs = expand.parseAttrs({ shape: [2, 3, 2] });
    const [gx] = expand.vjp([x], expand.forward([x], attrs), t64([2, 3, 2], (i) => i), attrs);
    expectClose(sumToShape(gx!, [3, 1]), [0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11]);
  });

  it('computes in float32', () => {
    const y = run([2, 3, 1], tensor([3, 1], [1, 2, 3], 'float32'));
    expect(y.data).toBeInstanceOf(Float32Array);
    expectClose(y, [1, 2, 3, 1, 2, 3]);
  });

  it('has a VJP matching finite differences', () => {
    checkVjp(expand, [rand([3, 1], 1)], { shape: [2, 3, 4] });
    checkVjp(expand, [rand([1, 2], 2)], { shape: [-1, -1] });
    checkVjp(expand, [rand([], 3)], { shape: [3] });
  });
});
