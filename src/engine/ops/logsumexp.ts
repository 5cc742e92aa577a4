import { defineOp, perElement } from '../op.js';
import { dtypeOf, zeros } from '../tensor.js';
import { reducedShape, ReduceAttrsSchema, reduction } from './axes.js';

export const logsumexp = defineOp({
  name: 'logsumexp',
  arity: 1,
  attrs: ReduceAttrsSchema,
  summary: 'log Σ exp(x) over the given axes, or over all, computed stably (torch.logsumexp)',
  derivative: '∂L/∂x_i = g · exp(x_i − logsumexp(x)) = g · softmax(x)_i',
  flops: perElement(17),
  shape: ([x], attrs) => reducedShape(x!, attrs).shape,
  // NOTE: log Σ exp(x) = m + log Σ exp(x − m) for any m; with m = max x every exponent is ≤ 0, so
  // nothing overflows and the largest term is exactly 1, so the log never sees an underflowed 0.
  // When m is ±∞ (all −∞, or an empty axis) the shift would give ∞ − ∞ = NaN; shifting by 0 then
  // gives torch's answers (−∞ for all −∞, +∞ when some element is +∞).
  forward: ([x], attrs) => {
    const { shape, map } = reduction(x!, attrs);
    const out = zeros(shape, dtypeOf(x!));
    const xs = x!.data;
    const m = new Float64Array(out.data.length).fill(-Infinity);
    for (let i = 0; i < map.length; i++) if (xs[i]! > m[map[i]!]!) m[map[i]!] = xs[i]!;
    for (let o = 0; o < m.length; o++) if (!Number.isFinite(m[o]!)) m[o] = 0;
    const s = new Float64Array(m.length);
    for (let i = 0; i < map.length; i++) s[map[i]!] += Math.exp(xs[i]! - m[map[i]!]!);
    for (let o = 0; o < m.length; o++) out.data[o] = m[o]! + Math.log(s[o]!);
    return out;
  },
  vjp: ([x], out, g, attrs) => {
    const { map } = reduction(x!, attrs);
    const gx = zeros(x!.shape, dtypeOf(g));
    const [xs, ys] = [x!.data, out.data];
    for (let i = 0; i < map.length; i++) gx.data[i] = g.data[map[i]!]! * Math.exp(xs[i]! - ys[map[i]!]!);
    return [gx];
  },
});
