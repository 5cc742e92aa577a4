import { z } from 'zod';
import { Kept } from '../buffers.js';
import { gemm, softmaxRowsF32 } from '../kernels/index.js';
import { backwardFollows, defineOp } from '../op.js';
import { broadcastShapes, dtypeOf, emptyData, empty, formatShape, sameShape, ShapeError, size, zeros, type Data, type Shape, type Tensor } from '../tensor.js';
import { reductionMap } from './axes.js';

const NAME = 'scaled_dot_product_attention';

export const AttentionAttrsSchema = z.strictObject({
  causal: z.boolean().default(false).describe('torch is_causal: query i attends to keys j ≤ i only (top-left aligned, as torch); combines with a mask'),
  scale: z.number().optional().describe('factor of q·kᵀ; default 1/√E, E the last dim of q'),
  maskType: z
    .enum(['boolean', 'additive'])
    .default('boolean')
    .describe("how the optional 4th input reads: 'boolean' as torch's bool mask (0 = masked out, any other value = attend; no gradient), 'additive' as torch's float mask (added to the scores; takes a gradient)"),
});
type Attrs = z.output<typeof AttentionAttrsSchema>;

/** torch's default scale 1/√E (1 when q has no features). */
const scaleOf = ({ scale }: Attrs, E: number) => scale ?? (E > 0 ? 1 / Math.sqrt(E) : 1);

/**
 * q [..., L, E], k [..., S, E], v [..., S, Ev], mask broadcasting to [..., L, S]; leading dims
 * broadcast. Per product t of the batch: the offsets of its q, k, v and mask blocks, and the mask's
 * row and column strides (0 where the mask is broadcast along L or S).
 */
function plan([q, k, v, mask]: Shape[]) {
  [q, k, v].forEach((s, i) => {
    if (s!.length < 2) throw new ShapeError(`${NAME}: ${'qkv'[i]} must have rank ≥ 2 ([..., length, features]), got ${formatShape(s!)}`, i);
  });
  const [L, E] = q!.slice(-2) as [number, number];
  const [S, Ek] = k!.slice(-2) as [number, number];
  const [Sv, Ev] = v!.slice(-2) as [number, number];
  if (Ek !== E) throw new ShapeError(`${NAME}: k ${formatShape(k!)} must end in q's feature size ${E} (q ${formatShape(q!)})`, 1);
  if (Sv !== S) throw new ShapeError(`${NAME}: v ${formatShape(v!)} must have k's length ${S} (k ${formatShape(k!)})`, 2);
  const leads = [q!, k!, v!].map((s) => s.slice(0, -2));
  let batch: number[];
  try {
    batch = broadcastShapes(...leads);
  } catch (err) {
    throw new ShapeError(`${NAME}: leading dims of q ${formatShape(q!)}, k ${formatShape(k!)}, v ${formatShape(v!)} do not broadcast`, (err as ShapeError).input);
  }
  const pad = (s: Shape) => [...new Array<number>(batch.length - s.length).fill(1), ...s];
  const [iq, ik, iv] = leads.map((s) => reductionMap(batch, pad(s)));
  // a q, k or v shared by several products takes their gradients summed: beta = 1 onto zeros
  const shared = leads.map((s) => size(s) < size(batch));
  let im = new Int32Array(size(batch));
  let [mRow, mCol] = [0, 0];
  if (mask) {
    const target = [...batch, L, S];
    let fits: boolean;
    try {
      fits = sameShape(broadcastShapes(mask, target), target);
    } catch {
      fits = false;
    }
    if (!fits) throw new ShapeError(`${NAME}: mask ${formatShape(mask)} must broadcast to the scores' shape ${formatShape(target)}`, 3);
    const m = [...new Array<number>(target.length - mask.length).fill(1), ...mask];
    const [mL, mS] = m.slice(-2) as [number, number];
    im = reductionMap(batch, m.slice(0, -2)).map((o) => o * mL * mS);
    [mRow, mCol] = [mL === 1 ? 0 : mS, mS === 1 ? 0 : 1];
  }
  const count = size(batch);
  // the weights of every product kept from the forward pass for the backward one when they take no
  // more memory than q, k and v (a long sequence's L × S per product recomputes them instead)
  const keep = count * L * S <= size(q!) + size(k!) + size(v!);
  return { shape: [...batch, L, Ev], count, L, S, E, Ev, iq, ik, iv, im, mRow, mCol, shared, keep };
}
type Plan = ReturnType<typeof plan>;

// NOTE (speed): the forward pass's weights P of every product, when kept (plan's `keep`), spare the
// backward pass its second q kᵀ and softmax. As gelu's slope (gelu.ts, buffers.ts Kept): by the output,
// used only given the very q, k, v and mask and the same attributes.
const weightsOf = new Kept<Tensor, { inputs: Data[]; attrs: Attrs; p: Data }>();

function keptWeights(out: Tensor, inputs: Tensor[], attrs: Attrs): Data | null {
  const kept = weightsOf.get(out);
  if (!kept) return null;
  const same = kept.inputs.length === inputs.length && kept.inputs.every((d, i) => d === inputs[i]!.data);
  const { causal, scale, maskType } = kept.attrs;
  return same && causal === attrs.causal && scale === attrs.scale && maskType === attrs.maskType ? kept.p : null;
}

const block = (d: Data, index: number, n: number) => d.subarray(index * n, (index + 1) * n);

/**
 * Fills p [L, S] with product t's attention weights: softmax over each row of scale·q kᵀ + mask.
 * NOTE: each row is shifted by its largest unmasked score, so no exponent overflows and its sum is
 * ≥ 1. A row with every key masked out (torch gives NaN there) is all zeros: its output row is 0 and
 * it passes no gradient. Float32 weights without a mask tensor take the SIMD kernel (same rules).
 */
function weights(pl: Plan, [q, k, , mask]: Tensor[], t: number, attrs: Attrs, p: Data): void {
  const { L, S, E } = pl;
  const { causal, maskType } = attrs;
  gemm(false, true, L, S, E, scaleOf(attrs, E), block(q!.data, pl.iq[t]!, L * E), E, block(k!.data, pl.ik[t]!, S * E), E, 0, p, S);
  const md = mask?.data;
  if (!md && p instanceof Float32Array && softmaxRowsF32(p, L, S, causal)) return;
  const additive = maskType === 'additive';
  for (let i = 0, r = 0; i < L; i++, r += S) {
    // keys past `open` are masked by causality: their weights are 0 and need no exp
    const open = causal ? Math.min(S, i + 1) : S;
    const mo = pl.im[t]! + i * pl.mRow;
    let max = -Infinity;
    let nan = false;
    if (md) {
      for (let j = 0; j < open; j++) {
        if (!additive && md[mo + j * pl.mCol] === 0) p[r + j] = -Infinity;
        else {
          const s = additive ? (p[r + j] = p[r + j]! + md[mo + j * pl.mCol]!) : p[r + j]!;
          if (s > max) max = s;
          else if (s !== s) nan = true;
        }
      }
    } else {
      for (let j = r, end = r + open; j < end; j++) {
        const s = p[j]!;
        if (s > max) max = s;
        else if (s !== s) nan = true;
      }
    }
    // a NaN score is no masked key: exp(NaN) makes the row NaN, as torch
    if (max === -Infinity && !nan) {
      p.fill(0, r, r + S);
      continue;
    }
    let sum = 0;
    for (let j = r, end = r + open; j < end; j++) sum += p[j] = Math.exp(p[j]! - max);
    const inv = 1 / sum;
    for (let j = r, end = r + open; j < end; j++) p[j] = p[j]! * inv;
    p.fill(0, r + open, r + S);
  }
}

export const scaledDotProductAttention = defineOp({
  name: NAME,
  arity: [3, 4],
  attrs: AttentionAttrsSchema,
  summary:
    'softmax(scale·q kᵀ + mask) v over the last two dims as torch 2 F.scaled_dot_product_attention: q [..., L, E], k [..., S, E], v [..., S, Ev], optional mask broadcasting to [..., L, S] (boolean: 0 = masked out; or additive), leading dims broadcast; a query with every key masked out gives 0 (torch: NaN)',
  derivative:
    'with P = softmax(scale·q kᵀ + mask), g = ∂L/∂out: ∂L/∂v = Pᵀ g, dS = P ⊙ (g vᵀ − rowsum(P ⊙ g vᵀ)), ∂L/∂q = scale·dS k, ∂L/∂k = scale·dSᵀ q, ∂L/∂mask = dS (additive mask; none for a boolean one); P is kept from the forward pass while it takes no more memory than q, k and v, else recomputed',
  shape: (inputs) => plan(inputs).shape,
  // per product: q kᵀ (2·L·S·E), the softmax (a few per weight), the weights times v (2·L·S·Ev)
  flops: (inputs) => {
    const { L, S, E, Ev, count } = plan(inputs);
    return count * L * S * (2 * E + 2 * Ev + 5);
  },
  // the weights and their gradient, [L, S] each, or the weights of every product when kept; with an
  // additive mask, its gradient for every product
  workspace: (inputs, { maskType }) => {
    const { L, S, count, keep } = plan(inputs);
    return L * S * ((keep ? count : 1) + 1 + (inputs[3] && maskType === 'additive' ? count : 0));
  },
  forward: (inputs, attrs) => {
    const pl = plan(inputs.map((x) => x.shape));
    const { L, S, Ev } = pl;
    const dtype = dtypeOf(inputs[0]!);
    const out = empty(pl.shape, dtype); // every block is written by a beta = 0 product
    // kept only for a backward pass that will come
    const keep = pl.keep && backwardFollows();
    const all = emptyData((keep ? pl.count : 1) * L * S, dtype);
    for (let t = 0; t < pl.count; t++) {
      const p = keep ? block(all, t, L * S) : all;
      weights(pl, inputs, t, attrs, p);
      gemm(false, false, L, Ev, S, 1, p, S, block(inputs[2]!.data, pl.iv[t]!, S * Ev), Ev, 0, block(out.data, t, L * Ev), Ev);
    }
    if (keep) weightsOf.keep(out, { inputs: inputs.map((x) => x.data), attrs, p: all });
    return out;
  },
  // NOTE: the backward pass of FlashAttention where the weights of every product would outgrow q, k
  // and v: P is recomputed per product (one more q kᵀ) rather than kept for every head; rowsum(P ⊙ dP)
  // is the softmax VJP's ⟨g, y⟩ of each row.
  vjp: (inputs, out, g, attrs, needs) => {
    const [q, k, v, mask] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const pl = plan(inputs.map((x) => x.shape));
    const { L, S, E, Ev } = pl;
    const scale = scaleOf(attrs, E);
    const dtype = dtypeOf(q);
    const want = (i: number) => needs?.[i] ?? true;
    const grad = (x: Tensor, i: number) => (!want(i) ? null : pl.shared[i] ? zeros(x.shape, dtype) : empty(x.shape, dtype));
    const [dq, dk, dv] = [grad(q, 0), grad(k, 1), grad(v, 2)];
    const dmask = mask && attrs.maskType === 'additive' && want(3) ? empty([...pl.shape.slice(0, -2), L, S], dtype) : null;
    const beta = pl.shared.map((b) => (b ? 1 : 0));
    const all = keptWeights(out, inputs, attrs);
    const [scratch, dp] = [all ? null : emptyData(L * S, dtype), emptyData(L * S, dtype)];
    for (let t = 0; t < pl.count; t++) {
      const [qt, kt, vt, gt] = [block(q.data, pl.iq[t]!, L * E), block(k.data, pl.ik[t]!, S * E), block(v.data, pl.iv[t]!, S * Ev), block(g.data, t, L * Ev)];
      const p = all ? block(all, t, L * S) : scratch!;
      if (!all) weights(pl, inputs, t, attrs, p);
      if (dv) gemm(true, false, S, Ev, L, 1, p, S, gt, Ev, beta[2]!, block(dv.data, pl.iv[t]!, S * Ev), Ev);
      if (!dq && !dk && !dmask) continue;
      gemm(false, true, L, S, Ev, 1, gt, Ev, vt, Ev, 0, dp, S);
      for (let i = 0, r = 0; i < L; i++, r += S) {
        // past `open` the weights are 0 (causality), and so is dS, whatever g·vᵀ is there
        const end = r + (attrs.causal ? Math.min(S, i + 1) : S);
        let dot = 0;
        for (let j = r; j < end; j++) dot += p[j]! * dp[j]!;
        for (let j = r; j < end; j++) dp[j] = p[j]! * (dp[j]! - dot);
        dp.fill(0, end, r + S);
      }
      if (dq) gemm(false, false, L, E, S, scale, dp, S, kt, E, beta[0]!, block(dq.data, pl.iq[t]!, L * E), E);
      if (dk) gemm(true, false, S, E, L, scale, dp, S, qt, E, beta[1]!, block(dk.data, pl.ik[t]!, S * E), E);
      if (dmask) block(dmask.data, t, L * S).set(dp);
    }
    return mask ? [dq, dk, dv, dmask] : [dq, dk, dv];
  },
});
