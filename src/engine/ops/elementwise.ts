// Factories for elementwise ops: each op supplies scalar rules, the factory runs the loops over the
// typed arrays (no per-element allocation), so an op file is a handful of lines. Each op gets its own
// copy of the loops (shared/loops.ts).
import { z } from 'zod';
import { defineOp, type Op, type OpSpec } from '../op.js';
import { compileLoops } from './shared/loops.js';
import { broadcastShapes, broadcastStrides, dtypeOf, emptyData, forEachRow, sameShape, size, tiles, type Data, type Shape } from '../tensor.js';

const NO_ATTRS = z.strictObject({});
type NoAttrs = typeof NO_ATTRS;

interface UnaryLoops<T> {
  forward(x: Data, y: Data, attrs: T): void;
  vjp(x: Data, y: Data, g: Data, gx: Data, attrs: T): void;
}

// The length is read once, not every pass (V8 does not hoist a typed array's length out of the loop).
const UNARY_LOOPS = `return {
  forward(x, y, attrs) { const n = y.length; for (let i = 0; i < n; i++) y[i] = f(x[i], attrs); },
  vjp(x, y, g, gx, attrs) { const n = gx.length; for (let i = 0; i < n; i++) gx[i] = g[i] * df(x[i], y[i], attrs); },
};`;

export interface UnaryOpSpec<A extends z.ZodType> {
  name: string;
  summary: string;
  derivative: string;
  attrs?: A;
  f: (x: number, attrs: z.output<A>) => number;
  /** the local derivative dy/dx, given the input x and the output y = f(x) */
  df: (x: number, y: number, attrs: z.output<A>) => number;
  /** y = f(x) for float32 on a SIMD kernel (src/engine/kernels); false when it declines and the loop runs */
  kernel32?: (x: Float32Array, y: Float32Array, attrs: z.output<A>) => boolean;
  /** gx = g·df for float32 on a SIMD kernel, as kernel32 */
  gradKernel32?: (x: Float32Array, y: Float32Array, g: Float32Array, gx: Float32Array, attrs: z.output<A>) => boolean;
  /**
   * float32 gx from what kernel32 kept beside y for the backward pass, written over it (so used once), or
   * null: then gradKernel32 or the loop
   */
  keptGrad32?: (x: Float32Array, y: Float32Array, g: Float32Array) => Float32Array | null;
  /** elements the op allocates beyond its output and gradient (OpSpec.workspace) */
  workspace?: (inputs: Shape[], attrs: z.output<A>) => number;
  /** FLOPs of a forward call (OpSpec.flops), for an f dearer than the default (ELEMENT_FLOPS per element read or written) */
  flops?: OpSpec<A>['flops'];
}

export function unaryOp<A extends z.ZodType = NoAttrs>({ f, df, kernel32, gradKernel32, keptGrad32, ...info }: UnaryOpSpec<A>): Op<A> {
  const loops = compileLoops<UnaryLoops<z.output<A>>>(info.name, UNARY_LOOPS, { f, df });
  return defineOp<A>({
    ...info,
    arity: 1,
    shape: ([a]) => a!,
    forward: ([a], attrs) => {
      const y = emptyData(a!.data.length, dtypeOf(a!));
      const x = a!.data;
      if (!(kernel32 && x instanceof Float32Array && y instanceof Float32Array && kernel32(x, y, attrs))) loops.forward(x, y, attrs);
      return { shape: [...a!.shape], data: y };
    },
    vjp: ([a], out, g, attrs) => {
      const [x, y, gy] = [a!.data, out.data, g.data];
      const kept = keptGrad32 && x instanceof Float32Array && y instanceof Float32Array && gy instanceof Float32Array ? keptGrad32(x, y, gy) : null;
      if (kept) return [{ shape: [...a!.shape], data: kept }];
      const gx = emptyData(a!.data.length, dtypeOf(g));
      const f32 = x instanceof Float32Array && y instanceof Float32Array && gy instanceof Float32Array && gx instanceof Float32Array;
      if (!(f32 && gradKernel32?.(x, y, gy, gx, attrs))) loops.vjp(x, y, gy, gx, attrs);
      return [{ shape: [...a!.shape], data: gx }];
    },
  });
}

export interface BinaryOpSpec {
  name: string;
  summary: string;
  derivative: string;
  f: (a: number, b: number) => number;
  /** ∂y/∂a and ∂y/∂b, given both operands and the output y = f(a, b) */
  da: (a: number, b: number, y: number) => number;
  db: (a: number, b: number, y: number) => number;
  /** FLOPs of a forward call (OpSpec.flops), as for unary ops */
  flops?: OpSpec<NoAttrs>['flops'];
  /** da = db = 1 everywhere (add): the VJP hands `g` itself to both inputs, no pass over it */
  passesGradient?: boolean;
  /**
   * f on float32 SIMD kernels, for a commutative f (add): z = f(x, w) for operands of one size, and z =
   * f(whole, tile) for one repeated along the other's leading dims; false when declined and the loop runs
   */
  kernels32?: {
    same(x: Float32Array, w: Float32Array, z: Float32Array): boolean;
    tiled(whole: Float32Array, tile: Float32Array, z: Float32Array): boolean;
  };
}

interface BinaryLoops {
  /** z[i] = f(x[i·sx], w[i·sw]): strides 1, or 0 for an operand of one element */
  forward(x: Data, sx: number, w: Data, sw: number, z: Data): void;
  /** x whole and w repeated along its leading dims (w's shape the output's last dims), or (`wWhole`) the other way round */
  forwardTiled(x: Data, w: Data, z: Data, wWhole: boolean): void;
  /** the same for operands of any broadcastable shapes, with their strides in the output's `shape` */
  forwardBroadcast(x: Data, sa: number[], w: Data, sb: number[], z: Data, shape: Shape): void;
  /** both gradients in the output's shape, operands of the output's shape */
  vjp(x: Data, w: Data, y: Data, g: Data, ga: Data, gb: Data): void;
  /** one gradient in the output's shape (`a`: the first operand's, else the second's), strides as forward's */
  vjpOne(a: boolean, x: Data, sx: number, w: Data, sw: number, y: Data, g: Data, gx: Data): void;
  vjpBroadcast(x: Data, sa: number[], w: Data, sb: number[], y: Data, g: Data, ga: Data, gb: Data, shape: Shape): void;
}

// Broadcasting walks the output row by row (its last dimension, forEachRow), each row's loop compiled
// here with f or the derivatives inlined (a shared helper taking f as a per-element callback was about
// twice as slow).
const BINARY_LOOPS = `
return {
  forward(x, sx, w, sw, z) {
    const n = z.length;
    if (sx === 1 && sw === 1) for (let i = 0; i < n; i++) z[i] = f(x[i], w[i]);
    else for (let i = 0; i < n; i++) z[i] = f(x[i * sx], w[i * sw]);
  },
  forwardTiled(x, w, z, wWhole) {
    const n = z.length;
    if (wWhole) {
      const m = x.length;
      for (let o = 0; o < n; o += m) for (let j = 0; j < m; j++) z[o + j] = f(x[j], w[o + j]);
    } else {
      const m = w.length;
      for (let o = 0; o < n; o += m) for (let j = 0; j < m; j++) z[o + j] = f(x[o + j], w[j]);
    }
  },
  forwardBroadcast(x, sa, w, sb, z, shape) {
    forEachRow(shape, sa, sb, (o, ia, ib, len, ax, bx) => {
      for (let j = 0; j < len; j++) z[o + j] = f(x[ia + j * ax], w[ib + j * bx]);
    });
  },
  vjp(x, w, y, g, ga, gb) {
    const n = g.length;
    for (let i = 0; i < n; i++) {
      ga[i] = g[i] * da(x[i], w[i], y[i]);
      gb[i] = g[i] * db(x[i], w[i], y[i]);
    }
  },
  vjpOne(a, x, sx, w, sw, y, g, gx) {
    const n = g.length;
    if (a) for (let i = 0; i < n; i++) gx[i] = g[i] * da(x[i * sx], w[i * sw], y[i]);
    else for (let i = 0; i < n; i++) gx[i] = g[i] * db(x[i * sx], w[i * sw], y[i]);
  },
  vjpBroadcast(x, sa, w, sb, y, g, ga, gb, shape) {
    forEachRow(shape, sa, sb, (o, ia, ib, len, ax, bx) => {
      for (let j = 0; j < len; j++) {
        const u = x[ia + j * ax];
        const v = w[ib + j * bx];
        ga[o + j] = g[o + j] * da(u, v, y[o + j]);
        gb[o + j] = g[o + j] * db(u, v, y[o + j]);
      }
    });
  },
};`;

/** A broadcasting binary op (NumPy rules); the output has the first operand's dtype. */
export function binaryOp({ f, da, db, passesGradient, kernels32, ...info }: BinaryOpSpec): Op<NoAttrs> {
  const loops = compileLoops<BinaryLoops>(info.name, BINARY_LOOPS, { f, da, db, forEachRow });
  return defineOp({
    ...info,
    arity: 2,
    shape: ([a, b]) => broadcastShapes(a!, b!),
    forward: ([a, b]) => {
      const shape = sameShape(a!.shape, b!.shape) ? a!.shape : broadcastShapes(a!.shape, b!.shape);
      const n = size(shape);
      const [x, w] = [a!.data, b!.data];
      const z = emptyData(n, dtypeOf(a!));
      const f32 = kernels32 && x instanceof Float32Array && w instanceof Float32Array && z instanceof Float32Array;
      if (f32 && x.length === n && w.length === n && kernels32.same(x, w, z)) return { shape: [...shape], data: z };
      // one operand whole and the other whole or a single element: one flat loop; else row by row
      if ((x.length === n || x.length === 1) && (w.length === n || w.length === 1)) {
        loops.forward(x, x.length === n ? 1 : 0, w, w.length === n ? 1 : 0, z);
      } else if ((x.length === n && tiles(b!.shape, shape)) || (w.length === n && tiles(a!.shape, shape))) {
        // a bias or positional table added to every row: rows of the output without an odometer
        const [whole, tile] = w.length === n ? [w, x] : [x, w];
        if (!(f32 && kernels32.tiled(whole as Float32Array, tile as Float32Array, z))) loops.forwardTiled(x, w, z, w.length === n);
      } else {
        loops.forwardBroadcast(x, broadcastStrides(a!.shape, shape), w, broadcastStrides(b!.shape, shape), z, shape);
      }
      return { shape: [...shape], data: z };
    },
    // Both gradients come back in the output's shape; the engine sums each back to its input's shape.
    // the engine copies an adjoint before it writes into one it does not own (engine/run.ts), so one
    // `g` may be both gradients
    vjp: ([a, b], out, g, _attrs, needs) => {
      if (passesGradient) return [g, g];
      const [x, w] = [a!.data, b!.data];
      const n = g.data.length;
      const [wantA, wantB] = [needs?.[0] ?? true, needs?.[1] ?? true];
      // one operand's gradient only (the other a constant, an input, or a non-trainable exponent), when
      // the operands are whole or single elements: one flat loop, the other rule not evaluated
      if (wantA !== wantB && (x.length === n || x.length === 1) && (w.length === n || w.length === 1)) {
        const gx = emptyData(n, dtypeOf(g));
        loops.vjpOne(wantA, x, x.length === n ? 1 : 0, w, w.length === n ? 1 : 0, out.data, g.data, gx);
        const grad = { shape: [...out.shape], data: gx };
        return wantA ? [grad, null] : [null, grad];
      }
      const ga = emptyData(n, dtypeOf(g));
      const gb = emptyData(n, dtypeOf(g));
      if (x.length === n && w.length === n) loops.vjp(x, w, out.data, g.data, ga, gb);
      else {
        const [sa, sb] = [broadcastStrides(a!.shape, out.shape), broadcastStrides(b!.shape, out.shape)];
        loops.vjpBroadcast(x, sa, w, sb, out.data, g.data, ga, gb, out.shape);
      }
      return [
        { shape: [...out.shape], data: ga },
        { shape: [...out.shape], data: gb },
      ];
    },
  });
}
