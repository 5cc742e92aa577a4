// max_pool2d's 2 × 2 windows in WebAssembly (wasm/assembly/max-pool.ts), on the workspace of the
// convolution kernels (kernels/im2col.ts).
import { workspace } from './im2col.js';

// planes are copied in and out this many input elements at a time (at least one plane), so that a
// large input needs no workspace of its size
const CHUNK = 1 << 16;

/**
 * Each output's maximum into y and its flat index in x into arg, for the 2 × 2 windows at rows 2r and
 * columns 2c of `planes` planes h × w of x (oh × ow outputs a plane); false, nothing written, without
 * build/gemm.wasm.
 */
export function maxPool2x2F32(x: Float32Array, planes: number, h: number, w: number, oh: number, ow: number, y: Float32Array, arg: Int32Array): boolean {
  const per = Math.max(1, Math.min(planes, Math.floor(CHUNK / (h * w))));
  const [xn, yn] = [per * h * w, per * oh * ow];
  const space = workspace([xn * 4, yn * 4, yn * 4]);
  if (!space) return false;
  const { w: instance, at: [xAt, yAt, argAt] } = space;
  const mem = instance.f32;
  const args = new Int32Array(mem.buffer, argAt!, yn);
  for (let q = 0; q < planes; q += per) {
    const n = Math.min(per, planes - q);
    mem.set(x.subarray(q * h * w, (q + n) * h * w), xAt! / 4);
    instance.x.maxPool2x2f32(xAt!, n, h, w, oh, ow, yAt!, argAt!, q * h * w);
    y.set(mem.subarray(yAt! / 4, yAt! / 4 + n * oh * ow), q * oh * ow);
    arg.set(args.subarray(0, n * oh * ow), q * oh * ow);
  }
  return true;
}
