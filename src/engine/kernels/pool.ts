// max_pool2d's 2 × 2 windows in WebAssembly (wasm/assembly/max-pool.ts), on the workspace of the
// convolution kernels (kernels/im2col.ts).
import { workspace } from './im2col.js';

/**
 * Each output's maximum into y and its flat index in x into arg, for the 2 × 2 windows at rows 2r and
 * columns 2c of `planes` planes h × w of x (oh × ow outputs a plane); false, nothing written, without
 * build/gemm.wasm.
 */
export function maxPool2x2F32(x: Float32Array, planes: number, h: number, w: number, oh: number, ow: number, y: Float32Array, arg: Int32Array): boolean {
  const space = workspace([x.length * 4, y.length * 4, arg.length * 4]);
  if (!space) return false;
  const { w: instance, at: [xAt, yAt, argAt] } = space;
  const mem = instance.f32;
  mem.set(x, xAt! / 4);
  instance.x.maxPool2x2f32(xAt!, planes, h, w, oh, ow, yAt!, argAt!);
  y.set(mem.subarray(yAt! / 4, yAt! / 4 + y.length));
  arg.set(new Int32Array(mem.buffer, argAt!, arg.length));
  return true;
}
