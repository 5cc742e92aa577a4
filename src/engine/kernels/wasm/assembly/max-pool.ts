// max_pool2d's forward for 2 × 2 windows 2 apart (src/engine/ops/shared/pool.ts), four windows at a
// time: each output takes its window's maximum and where it is, in the JS loop's order and rule (a
// later tap replaces the maximum so far when greater or NaN). On float32 the JS side copied in
// (src/engine/kernels/pool.ts); offsets in bytes.

/**
 * The four windows c … c + 3 of output row o (input rows at a and a + w·4 bytes, the row's first
 * input element `first`): maxima to y, indices (plus `base`) to arg.
 */
@inline function fourWindows(a: usize, w: i32, c: i32, o: usize, y: usize, arg: usize, first: i32, base: i32): void {
  const p = <usize>(2 * c) << 2;
  const b = a + (<usize>w << 2);
  const a0 = v128.load(a + p);
  const a1 = v128.load(a + p + 16);
  const b0 = v128.load(b + p);
  const b1 = v128.load(b + p + 16);
  let best = i32x4.shuffle(a0, a1, 0, 2, 4, 6);
  let at = i32x4.splat(0);
  let v = i32x4.shuffle(a0, a1, 1, 3, 5, 7);
  let m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
  best = v128.bitselect(v, best, m);
  at = v128.bitselect(i32x4.splat(1), at, m);
  v = i32x4.shuffle(b0, b1, 0, 2, 4, 6);
  m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
  best = v128.bitselect(v, best, m);
  at = v128.bitselect(i32x4.splat(w), at, m);
  v = i32x4.shuffle(b0, b1, 1, 3, 5, 7);
  m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
  best = v128.bitselect(v, best, m);
  at = v128.bitselect(i32x4.splat(w + 1), at, m);
  v128.store(y + ((o + <usize>c) << 2), best);
  v128.store(arg + ((o + <usize>c) << 2), i32x4.add(i32x4.add(at, i32x4(0, 2, 4, 6)), i32x4.splat(base + first + 2 * c)));
}

/**
 * For `planes` planes of h × w at byte x: y (oh × ow float32 a plane) gets each window's maximum and
 * arg (int32) its flat index in x plus `base`, for the windows at rows 2r and columns 2c (oh ≤ h/2,
 * ow ≤ w/2).
 */
export function maxPool2x2f32(x: usize, planes: i32, h: i32, w: i32, oh: i32, ow: i32, y: usize, arg: usize, base: i32): void {
  const wB = <usize>w << 2;
  let o: usize = 0;
  for (let q = 0; q < planes; q++) {
    for (let r = 0; r < oh; r++, o += <usize>ow) {
      const first = (q * h + 2 * r) * w;
      const a = x + (<usize>first << 2);
      let c = 0;
      // four windows read eight columns: whole groups only while they stay inside the row
      for (; c + 4 <= ow && 2 * c + 8 <= w; c += 4) fourWindows(a, w, c, o, y, arg, first, base);
      // the last windows as a group that overlaps the previous one (the same values again), when it fits
      if (c < ow && ow >= 4 && 2 * (ow - 4) + 8 <= w) {
        fourWindows(a, w, ow - 4, o, y, arg, first, base);
        continue;
      }
      for (; c < ow; c++) {
        const k = first + 2 * c;
        const p = <usize>k << 2;
        let best = load<f32>(x + p);
        let at = k;
        let v = load<f32>(x + p + 4);
        if (v > best || v != v) { best = v; at = k + 1; }
        v = load<f32>(x + p + wB);
        if (v > best || v != v) { best = v; at = k + w; }
        v = load<f32>(x + p + wB + 4);
        if (v > best || v != v) { best = v; at = k + w + 1; }
        store<f32>(y + ((o + <usize>c) << 2), best);
        store<i32>(arg + ((o + <usize>c) << 2), base + at);
      }
    }
  }
}

/**
 * max_pool2d's backward on float32: dx[arg[o] − base] += g[o] for o < n (offsets in bytes, arg
 * int32), in order, as the JS loop: overlapping windows add up, each sum rounded as its own. An index
 * outside dx's `size` elements is skipped, as a typed array ignores a write out of its bounds.
 */
export function maxPoolScatter32(g: usize, arg: usize, n: i32, dx: usize, base: i32, size: i32): void {
  const end = g + (<usize>n << 2);
  for (let p = g, a = arg; p < end; p += 4, a += 4) {
    const k = load<i32>(a) - base;
    if (<u32>k >= <u32>size) continue;
    const at = dx + (<usize>k << 2);
    store<f32>(at, load<f32>(at) + load<f32>(p));
  }
}
