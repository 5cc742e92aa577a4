// The weight gradient of a convolution whose groups have one input channel each (a first layer on
// grey images, a depthwise convolution), stride 1 along rows, without the unrolled matrix
// (src/engine/kernels/conv-direct.ts): for each tap, Σ g·x over the output positions, the input read
// shifted from planes padded with zeros. On operands the JS side laid out in linear memory; offsets in
// bytes, sizes in elements.
import { sum32 } from './reduce';

/**
 * Copies `planes` planes of h × w float32 at x into planes of hp × wp at p, element (r, c) at
 * (r + ph, c + pw); every other element of p's planes is zero (rows and columns past hp, wp dropped).
 */
export function padPlanes32(x: usize, planes: i32, h: i32, w: i32, p: usize, hp: i32, wp: i32, ph: i32, pw: i32): void {
  const plane = <usize>(hp * wp) << 2;
  memory.fill(p, 0, plane * <usize>planes);
  const r0 = max(0, -ph);
  const r1 = min(h, hp - ph);
  const c0 = max(0, -pw);
  const c1 = min(w, wp - pw);
  if (r0 >= r1 || c0 >= c1) return;
  const bytes = <usize>(c1 - c0) << 2;
  for (let q = 0; q < planes; q++) {
    const src = x + (<usize>(q * h * w + c0) << 2);
    const dst = p + <usize>q * plane + (<usize>(c0 + pw) << 2);
    for (let r = r0; r < r1; r++) memory.copy(dst + (<usize>((r + ph) * wp) << 2), src + (<usize>(r * w) << 2), bytes);
  }
}

@inline function hsum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/**
 * dW of `samples` samples: for each group (one input plane of hp × wp at xp, the sample's planes
 * `groups` in a row), each of its `og` output channels (planes of oh × ow at g, the sample's `o` planes
 * in a row) and each tap t (taps[t], the tap's byte offset in a padded plane; `taps` a multiple of 4),
 * acc[channel·taps + t] += Σ_(y, x) g[y, x] · xp[y·sh·wp + x + tap] in float64, and bias[channel] +=
 * Σ g. Two channels and four taps a pass: each load of g serves four taps, each of x two channels.
 * Lanes past ow (the last vector of a row) are masked out of both operands, so what lies past a row
 * never enters a sum (not even a NaN times zero).
 */
export function convWeightGrad32(
  xp: usize, g: usize, samples: i32, groups: i32, og: i32, oh: i32, ow: i32, hp: i32, wp: i32, sh: i32,
  taps: usize, ntaps: i32, acc: usize, bias: usize,
): void {
  const o = groups * og;
  const gPlane = <usize>(oh * ow) << 2;
  const xPlane = <usize>(hp * wp) << 2;
  const xRow = <usize>(sh * wp) << 2;
  const gRow = <usize>ow << 2;
  const whole = <usize>(ow & ~3) << 2;
  const rest = ow & 3;
  // lanes [0, rest) of the last vector
  const mask = i32x4(rest > 0 ? -1 : 0, rest > 1 ? -1 : 0, rest > 2 ? -1 : 0, 0);
  for (let s = 0; s < samples; s++) {
    for (let grp = 0; grp < groups; grp++) {
      const plane = xp + <usize>(s * groups + grp) * xPlane;
      for (let oc = 0; oc < og; oc += 2) {
        const ch = grp * og + oc;
        const pair = oc + 1 < og;
        const g0 = g + <usize>(s * o + ch) * gPlane;
        // an odd channel out is paired with itself, its second sums dropped
        const g1 = pair ? g0 + gPlane : g0;
        for (let t = 0; t < ntaps; t += 4) {
          const k0 = <usize>load<i32>(taps + (<usize>t << 2));
          const k1 = <usize>load<i32>(taps + (<usize>t << 2), 4);
          const k2 = <usize>load<i32>(taps + (<usize>t << 2), 8);
          const k3 = <usize>load<i32>(taps + (<usize>t << 2), 12);
          let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
          let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
          let xr = plane;
          let gr: usize = 0;
          for (let y = 0; y < oh; y++, xr += xRow, gr += gRow) {
            let i: usize = 0;
            for (; i < whole; i += 16) {
              const u = v128.load(g0 + gr + i);
              const v = v128.load(g1 + gr + i);
              const p = xr + i;
              const x0 = v128.load(p + k0);
              a0 = f32x4.add(a0, f32x4.mul(u, x0));
              b0 = f32x4.add(b0, f32x4.mul(v, x0));
              const x1 = v128.load(p + k1);
              a1 = f32x4.add(a1, f32x4.mul(u, x1));
              b1 = f32x4.add(b1, f32x4.mul(v, x1));
              const x2 = v128.load(p + k2);
              a2 = f32x4.add(a2, f32x4.mul(u, x2));
              b2 = f32x4.add(b2, f32x4.mul(v, x2));
              const x3 = v128.load(p + k3);
              a3 = f32x4.add(a3, f32x4.mul(u, x3));
              b3 = f32x4.add(b3, f32x4.mul(v, x3));
            }
            if (rest) {
              // the same pass on the masked operands (written out: AssemblyScript can't hand back 8 accumulators)
              const u = v128.and(v128.load(g0 + gr + i), mask);
              const v = v128.and(v128.load(g1 + gr + i), mask);
              const p = xr + i;
              const x0 = v128.and(v128.load(p + k0), mask);
              a0 = f32x4.add(a0, f32x4.mul(u, x0));
              b0 = f32x4.add(b0, f32x4.mul(v, x0));
              const x1 = v128.and(v128.load(p + k1), mask);
              a1 = f32x4.add(a1, f32x4.mul(u, x1));
              b1 = f32x4.add(b1, f32x4.mul(v, x1));
              const x2 = v128.and(v128.load(p + k2), mask);
              a2 = f32x4.add(a2, f32x4.mul(u, x2));
              b2 = f32x4.add(b2, f32x4.mul(v, x2));
              const x3 = v128.and(v128.load(p + k3), mask);
              a3 = f32x4.add(a3, f32x4.mul(u, x3));
              b3 = f32x4.add(b3, f32x4.mul(v, x3));
            }
          }
          const at = acc + (<usize>(ch * ntaps + t) << 3);
          store<f64>(at, load<f64>(at) + hsum(a0));
          store<f64>(at, load<f64>(at, 8) + hsum(a1), 8);
          store<f64>(at, load<f64>(at, 16) + hsum(a2), 16);
          store<f64>(at, load<f64>(at, 24) + hsum(a3), 24);
          if (pair) {
            const bt = at + (<usize>ntaps << 3);
            store<f64>(bt, load<f64>(bt) + hsum(b0));
            store<f64>(bt, load<f64>(bt, 8) + hsum(b1), 8);
            store<f64>(bt, load<f64>(bt, 16) + hsum(b2), 16);
            store<f64>(bt, load<f64>(bt, 24) + hsum(b3), 24);
          }
        }
        if (bias) {
          const bt = bias + (<usize>ch << 3);
          store<f64>(bt, load<f64>(bt) + sum32(g0, oh * ow));
          if (pair) store<f64>(bt, load<f64>(bt, 8) + sum32(g1, oh * ow), 8);
        }
      }
    }
  }
}
