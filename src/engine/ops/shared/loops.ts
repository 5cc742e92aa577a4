// NOTE (speed): V8 keeps one set of type feedback for all the closures made from one function literal,
// so a loop written once and shared by every op of a factory (elementwise.ts, the pointwise losses)
// would call each op's rule through a megamorphic site: never inlined, and then the bulk of an MLP's
// non-GEMM time. Each op therefore gets its own copy of its factory's loops, compiled from that
// factory's fixed source (no user input ever reaches it), in which the op's rules are monomorphic calls
// that the JIT inlines. The source names the op: V8 caches what `new Function` compiles by its text,
// feedback included, so ops compiled from the same text would share their call sites again.

/** `source` (a function body returning the loops) compiled for `op`, with `rules` in scope by their keys. */
export function compileLoops<T>(op: string, source: string, rules: Record<string, unknown>): T {
  return new Function(...Object.keys(rules), `'use strict'; // ${op}\n${source}`)(...Object.values(rules)) as T;
}
