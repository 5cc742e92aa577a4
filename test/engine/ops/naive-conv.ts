import type { Tensor } from '../../../src/engine/tensor.js';

export interface NaiveConv {
  stride: readonly [number, number];
  /** zeros before each spatial dim (after: whatever the output size oh, ow needs) */
  pad: readonly [number, number];
  dilation: readonly [number, number];
  groups: number;
  oh: number;
  ow: number;
}

/**
 * The definition of a batched 2-D cross-correlation, one multiply-add at a time, with its three
 * gradients for an upstream `g`: what conv2d's im2col and GEMMs must agree with.
 */
export function naiveConv2d(x: Tensor, w: Tensor, b: Tensor | undefined, p: NaiveConv, g?: Tensor) {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, cg, kh, kw] = w.shape as [number, number, number, number];
  const og = o / p.groups;
  const y = new Float64Array(n * o * p.oh * p.ow);
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  const db = new Float64Array(o);
  for (let s = 0; s < n; s++) {
    for (let oc = 0; oc < o; oc++) {
      const grp = Math.floor(oc / og);
      for (let oy = 0; oy < p.oh; oy++) {
        for (let ox = 0; ox < p.ow; ox++) {
          const yi = ((s * o + oc) * p.oh + oy) * p.ow + ox;
          const gv = g ? g.data[yi]! : 0;
          let acc = b ? b.data[oc]! : 0;
          db[oc] += gv;
          for (let ci = 0; ci < cg; ci++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const iy = oy * p.stride[0] - p.pad[0] + i * p.dilation[0];
                const ix = ox * p.stride[1] - p.pad[1] + j * p.dilation[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                const xi = ((s * c + grp * cg + ci) * h + iy) * wd + ix;
                const wi = ((oc * cg + ci) * kh + i) * kw + j;
                acc += x.data[xi]! * w.data[wi]!;
                dx[xi] += gv * w.data[wi]!;
                dw[wi] += gv * x.data[xi]!;
              }
            }
          }
          y[yi] = acc;
        }
      }
    }
  }
  return { y, dx, dw, db };
}
