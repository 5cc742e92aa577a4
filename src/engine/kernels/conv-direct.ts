// A convolution's weight gradient without the unrolled matrix (wasm/assembly/conv-direct.ts), when each
// group has one input channel and the stride along rows is 1 (a first layer on grey images, a
// depthwise convolution): there the GEMM's product is a few output channels by a few taps over every
// output position, which OpenBLAS runs far below its speed, after an unrolling that writes the input
// kh·kw times over. On the workspace of the convolution kernels (kernels/im2col.ts).
import { stopIfCancelled } from '../cancel.js';
import { workspace } from './im2col.js';

/** The sizes of such a convolution (src/engine/ops/shared/conv.ts's geometry, in_channels / groups = 1, sw = 1). */
export interface DirectGeometry {
  n: number; h: number; w: number; o: number; kh: number; kw: number; sh: number; ph: number; pw: number;
  dh: number; dw: number; oh: number; ow: number; groups: number; og: number;
}

// samples are taken this many elements of input and gradient at a time (at least one sample)
const CHUNK = 1 << 16;
/**
 * The padded planes may hold at most this many times the elements of input and gradient: padding
 * as wide as a dilated kernel's reach ("same" with a dilation far beyond the input) would pad a few
 * elements out to gigabytes. The unrolled path computes such a convolution instead, from the taps
 * that fall inside the input.
 */
const MAX_PADDED_RATIO = 4;

/**
 * dw ([o, 1, kh, kw]) += Σ over samples and positions of g times the input under each tap, and
 * sums[ch] += Σ of g over channel ch's samples and positions (when sums is given), accumulated in
 * float64 from float32 lanes of one sample's row of taps. False, nothing written, without the kernel
 * or when the padded planes would be too large.
 */
export function convWeightGradF32(geo: DirectGeometry, x: Float32Array, g: Float32Array, dw: Float32Array, sums: Float64Array | null): boolean {
  const { n, h, w, o, kh, kw, sh, ph, pw, dh, dw: dil, oh, ow, groups } = geo;
  // every vector of a row, its last one included, reads inside the padded plane
  const [hp, wp] = [(oh - 1) * sh + (kh - 1) * dh + 1, Math.ceil(ow / 4) * 4 + (kw - 1) * dil];
  const taps = Math.ceil((kh * kw) / 4) * 4;
  const [xs, ps, gs] = [groups * h * w, groups * hp * wp, o * oh * ow];
  if (ps > MAX_PADDED_RATIO * (xs + gs)) return false;
  const per = Math.max(1, Math.min(n, Math.floor(CHUNK / (xs + ps + gs))));
  // the last vector of the last row reads past the gradient's end: 16 bytes more
  const space = workspace([per * xs * 4, per * ps * 4, per * gs * 4 + 16, taps * 4, (o * taps + o) * 8]);
  if (!space || typeof space.w.x.convWeightGrad32 !== 'function') return false;
  const { w: instance, at: [xAt, pAt, gAt, tapAt, accAt] } = space;
  const mem = instance.f32;
  // the taps past kh·kw (to a multiple of 4) read the plane's start, their sums unused
  const offsets = new Int32Array(mem.buffer, tapAt!, taps).fill(0);
  for (let t = 0; t < kh * kw; t++) offsets[t] = (Math.floor(t / kw) * dh * wp + (t % kw) * dil) * 4;
  // the sums of the taps, then of the bias
  const acc = new Float64Array(mem.buffer, accAt!, o * taps + o);
  acc.fill(0);
  const biasAt = accAt! + o * taps * 8;
  for (let s0 = 0; s0 < n; s0 += per) {
    stopIfCancelled();
    const m = Math.min(per, n - s0);
    mem.set(x.subarray(s0 * xs, (s0 + m) * xs), xAt! / 4);
    instance.x.padPlanes32(xAt!, m * groups, h, w, pAt!, hp, wp, ph, pw);
    mem.set(g.subarray(s0 * gs, (s0 + m) * gs), gAt! / 4);
    instance.x.convWeightGrad32(pAt!, gAt!, m, groups, geo.og, oh, ow, hp, wp, sh, tapAt!, taps, accAt!, sums ? biasAt : 0);
  }
  for (let ch = 0; ch < o; ch++) {
    for (let t = 0; t < kh * kw; t++) dw[ch * kh * kw + t]! += acc[ch * taps + t]!;
    if (sums) sums[ch]! += acc[o * taps + ch]!;
  }
  return true;
}
