// Packing copies a block of op(A) or op(B) into k-major panels, zero-padded to the tile, so the
// micro-kernel streams both operands contiguously. B panels are W elements (32 bytes) wide: B is copied
// row by row and Bᵀ gathered (SIMD-transposed) from W rows. A panels hold each element broadcast to a
// v128 (see micro.ts), and A and Aᵀ differ only in the two strides the broadcasting packer walks.
// So all four transpose combinations cost the same.

/**
 * Gathers `rows` (≤ W) source rows, each holding kc contiguous elements at a stride of ldB bytes,
 * into a panel whose step p holds element p of every row: dst[p·W + r] = src[r][p].
 */
export function gatherPanel<T>(src: usize, ldB: usize, rows: i32, W: i32, kc: i32, dst: usize): void {
  const sz = <usize>sizeof<T>();
  let p = 0;
  if (rows == W) {
    if (sizeof<T>() == 4) {
      for (; p + 4 <= kc; p += 4) {
        const s = src + <usize>p * 4;
        const d = dst + <usize>(p * W) * 4;
        tr4F32(s, s + ldB, s + 2 * ldB, s + 3 * ldB, d, <usize>W * 4);
        if (W == 8) tr4F32(s + 4 * ldB, s + 5 * ldB, s + 6 * ldB, s + 7 * ldB, d + 16, 32);
      }
    } else {
      // f64 panels are always W = 4 (32 bytes): rows (0,1) fill bytes 0..15, rows (2,3) bytes 16..31.
      for (; p + 2 <= kc; p += 2) {
        const s = src + <usize>p * 8;
        const d = dst + <usize>p * 32;
        tr2F64(s, s + ldB, d);
        tr2F64(s + 2 * ldB, s + 3 * ldB, d + 16);
      }
    }
  }
  for (; p < kc; p++) {
    for (let r = 0; r < W; r++) {
      const v: T = r < rows ? load<T>(src + <usize>r * ldB + <usize>p * sz) : <T>0;
      store<T>(dst + <usize>(p * W + r) * sz, v);
    }
  }
}

/** Copies kc source rows (stride ldB bytes) of `cols` (≤ W) contiguous elements: dst[p·W + j] = src[p][j]. */
export function copyPanel<T>(src: usize, ldB: usize, cols: i32, W: i32, kc: i32, dst: usize): void {
  const sz = <usize>sizeof<T>();
  const width = <usize>W * sz;
  if (cols == W) {
    for (let p = 0; p < kc; p++) {
      v128.store(dst, v128.load(src));
      if (width == 32) v128.store(dst, v128.load(src, 16), 16);
      src += ldB;
      dst += width;
    }
    return;
  }
  for (let p = 0; p < kc; p++) {
    for (let j = 0; j < W; j++) {
      store<T>(dst + <usize>j * sz, j < cols ? load<T>(src + <usize>j * sz) : <T>0);
    }
    src += ldB;
    dst += width;
  }
}

/** 4×4 float32 transpose: four rows of four elements in, four steps written `stride` bytes apart. */
// @ts-ignore: decorator
@inline function tr4F32(r0: usize, r1: usize, r2: usize, r3: usize, d: usize, stride: usize): void {
  const v0 = v128.load(r0), v1 = v128.load(r1), v2 = v128.load(r2), v3 = v128.load(r3);
  const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t2, 0, 2));
  v128.store(d + stride, i64x2.shuffle(t0, t2, 1, 3));
  v128.store(d + 2 * stride, i64x2.shuffle(t1, t3, 0, 2));
  v128.store(d + 3 * stride, i64x2.shuffle(t1, t3, 1, 3));
}

/** 2×2 float64 transpose into a 32-byte-wide panel: step p at d, step p+1 at d + 32. */
// @ts-ignore: decorator
@inline function tr2F64(r0: usize, r1: usize, d: usize): void {
  const v0 = v128.load(r0), v1 = v128.load(r1);
  v128.store(d, i64x2.shuffle(v0, v1, 0, 2));
  v128.store(d + 32, i64x2.shuffle(v0, v1, 1, 3));
}

/**
 * Packs `rows` (≤ 4) rows of op(A) for kc steps, each element broadcast to 16 bytes:
 * dst[p·64 + r·16] = splat(element r of step p) read at src + r·rowB + p·stepB; rows past `rows` are 0.
 */
export function broadcastPanel<T>(src: usize, stepB: usize, rowB: usize, rows: i32, kc: i32, dst: usize): void {
  if (rows == 4) {
    for (let p = 0; p < kc; p++) {
      v128.store(dst, splatAt<T>(src));
      v128.store(dst, splatAt<T>(src + rowB), 16);
      v128.store(dst, splatAt<T>(src + 2 * rowB), 32);
      v128.store(dst, splatAt<T>(src + 3 * rowB), 48);
      src += stepB;
      dst += 64;
    }
    return;
  }
  for (let p = 0; p < kc; p++) {
    for (let r = 0; r < 4; r++) {
      v128.store(dst + <usize>r * 16, r < rows ? splatAt<T>(src + <usize>r * rowB) : v128.splat<i32>(0));
    }
    src += stepB;
    dst += 64;
  }
}

// @ts-ignore: decorator
@inline function splatAt<T>(p: usize): v128 {
  return sizeof<T>() == 4 ? v128.load32_splat(p) : v128.load64_splat(p);
}
