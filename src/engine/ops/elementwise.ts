// Factories for elementwise ops: each op supplies scalar rules, the factory runs the loops over the
// typed arrays (no per-element allocation), so an op file is a handful of lines.
import { z } from 'zod';
import { defineOp, type Op } from '../op.js';
import { allocData, binary, broadcastShapes, broadcastTo, dtypeOf } from '../tensor.js';

const NO_ATTRS = z.strictObject({});
type NoAttrs = typeof NO_ATTRS;

export interface UnaryOpSpec<A extends z.ZodType> {
  name: string;
  summary: string;
  derivative: string;
  attrs?: A;
  f: (x: number, attrs: z.output<A>) => number;
  /** the local derivative dy/dx, given the input x and the output y = f(x) */
  df: (x: number, y: number, attrs: z.output<A>) => number;
}

export function unaryOp<A extends z.ZodType = NoAttrs>({ f, df, ...info }: UnaryOpSpec<A>): Op<A> {
  return defineOp<A>({
    ...info,
    arity: 1,
    shape: ([a]) => a!,
    forward: ([a], attrs) => {
      const x = a!.data;
      const y = allocData(x.length, dtypeOf(x));
      for (let i = 0; i < x.length; i++) y[i] = f(x[i]!, attrs);
      return { shape: [...a!.shape], data: y };
    },
    vjp: ([a], out, g, attrs) => {
      const x = a!.data;
      const y = out.data;
      const gy = g.data;
      const gx = allocData(x.length, dtypeOf(g));
      for (let i = 0; i < x.length; i++) gx[i] = gy[i]! * df(x[i]!, y[i]!, attrs);
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
}

/** A broadcasting binary op (NumPy rules); the output has the first operand's dtype. */
export function binaryOp({ f, da, db, ...info }: BinaryOpSpec): Op<NoAttrs> {
  return defineOp({
    ...info,
    arity: 2,
    shape: ([a, b]) => broadcastShapes(a!, b!),
    forward: ([a, b]) => binary(a!, b!, f),
    // Both gradients come back in the output's shape; the engine sums each back to its input's shape.
    vjp: ([a, b], out, g) => {
      const x = broadcastTo(a!, out.shape).data;
      const w = broadcastTo(b!, out.shape).data;
      const y = out.data;
      const gy = g.data;
      const n = gy.length;
      const ga = allocData(n, dtypeOf(g));
      const gb = allocData(n, dtypeOf(g));
      for (let i = 0; i < n; i++) {
        ga[i] = gy[i]! * da(x[i]!, w[i]!, y[i]!);
        gb[i] = gy[i]! * db(x[i]!, w[i]!, y[i]!);
      }
      return [
        { shape: [...out.shape], data: ga },
        { shape: [...out.shape], data: gb },
      ];
    },
  });
}
