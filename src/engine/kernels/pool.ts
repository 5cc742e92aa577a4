// max_pool2d's 2 × 2 windows and its backward in WebAssembly (wasm/assembly/max-pool.ts), on the
// workspace of the convolution kernels (kernels/im2col.ts).
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

/**
 * max_pool2d's backward: dx (`planes` planes of `plane` elements, every one written) gets 0 plus, for
 * each output o, g[o] added at arg[o], its window's maximum (a flat index into dx, inside the output's
 * own plane), in the order of o as the JS loop; false, nothing written, without build/gemm.wasm.
 */
export function maxPoolScatterF32(g: Float32Array, arg: Int32Array, planes: number, plane: number, dx: Float32Array): boolean {
  const outs = g.length / planes;
  const per = Math.max(1, Math.min(planes, Math.floor(CHUNK / plane)));
  const space = workspace([per * plane * 4, per * outs * 4, per * outs * 4]);
  // a build/gemm.wasm older than its sources lacks the kernel (as wasm.ts's hasKernel)
  if (!space || typeof space.w.x.maxPoolScatter32 !== 'function') return false;
  const { w: instance, at: [dxAt, gAt, argAt] } = space;
  const mem = instance.f32;
  const args = new Int32Array(mem.buffer, argAt!, per * outs);
  for (let q = 0; q < planes; q += per) {
    const n = Math.min(per, planes - q);
    mem.fill(0, dxAt! / 4, dxAt! / 4 + n * plane);
    mem.set(g.subarray(q * outs, (q + n) * outs), gAt! / 4);
    args.set(arg.subarray(q * outs, (q + n) * outs));
    instance.x.maxPoolScatter32(gAt!, argAt!, n * outs, dxAt!, q * plane, n * plane);
    dx.set(mem.subarray(dxAt! / 4, dxAt! / 4 + n * plane), q * plane);
  }
  return true;
}
