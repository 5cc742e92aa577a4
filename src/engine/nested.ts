import type { Shape } from './tensor.js';

// Row-major data as nested JSON arrays, for small answers (explain) that are returned as plain JSON.

export type Nested = number | null | Nested[];

/** A number, or null for NaN/±Inf (JSON has neither). */
export function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Nested arrays of `shape` from row-major `data`, built bottom-up without recursion. */
export function toNested(shape: Shape, data: ArrayLike<number>): Nested {
  let level: Nested[] = Array.from(data, finite);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    const groups = n === 0 ? 0 : level.length / n;
    const next: Nested[] = [];
    // a zero-sized dimension leaves empty arrays whose count the outer dims give
    const count = n === 0 ? shape.slice(0, d).reduce((a, b) => a * b, 1) : groups;
    for (let i = 0; i < count; i++) next.push(level.slice(i * n, (i + 1) * n));
    level = next;
  }
  return level[0] ?? null;
}
