// The copies of a permutation that keeps trailing axes together (src/engine/ops/axes.ts's permute:
// attention's head split [B, T, H, E] → [B, H, T, E] moves runs of E), on a tensor the JS side copied
// into linear memory whole (src/engine/kernels/wasm.ts): each run moved by whole vectors.

/**
 * For k < count: `runBytes` bytes from x + starts[k]·size to y + k·runBytes, starts being `count` int32
 * at byte offset `starts` (element offsets into x, elements of `size` bytes).
 */
export function copyRuns(x: usize, y: usize, runBytes: i32, starts: usize, count: i32, size: i32): void {
  const bytes = <usize>runBytes;
  const whole = bytes & ~15;
  let to = y;
  for (let k = 0; k < count; k++, to += bytes) {
    const from = x + <usize>load<i32>(starts + (<usize>k << 2)) * <usize>size;
    for (let b: usize = 0; b < whole; b += 16) v128.store(to + b, v128.load(from + b));
    if (whole < bytes) memory.copy(to + whole, from + whole, bytes - whole);
  }
}
