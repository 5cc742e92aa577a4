import { z } from 'zod';
import type { Tensor } from '../tensor.js';

export const ClipGradNormSchema = z
  .number()
  .min(0)
  .describe(
    'max global L2 norm of all gradients together; larger gradients are scaled by maxNorm / (norm + 1e-6), ' +
      'as torch.nn.utils.clip_grad_norm_',
  );

function tensorNorm(t: Tensor, p: number): number {
  const d = t.data;
  let acc = 0;
  if (p === Infinity) {
    for (let i = 0; i < d.length; i++) acc = Math.max(acc, Math.abs(d[i]!));
    return acc;
  }
  if (p === 2) {
    for (let i = 0; i < d.length; i++) acc += d[i]! * d[i]!;
    return Math.sqrt(acc);
  }
  for (let i = 0; i < d.length; i++) acc += Math.abs(d[i]!) ** p;
  return acc ** (1 / p);
}

/**
 * torch.nn.utils.clip_grad_norm_ without the mutation: the total norm is the p-norm of the
 * per-tensor p-norms (the norm of all gradients as one vector), and when
 * clip_coef = maxNorm / (totalNorm + 1e-6) is below 1 every gradient is multiplied by it.
 * Norms are computed in float64 whatever the gradients' dtype; unclipped gradients are returned as is.
 */
export function clipGradNorm(
  grads: Record<string, Tensor>,
  maxNorm: number,
  normType = 2,
): { grads: Record<string, Tensor>; totalNorm: number; clipped: boolean } {
  if (!(maxNorm >= 0 && Number.isFinite(maxNorm))) throw new RangeError(`maxNorm must be finite and >= 0, got ${maxNorm}`);
  if (!(normType > 0)) throw new RangeError(`normType must be > 0 or Infinity, got ${normType}`);
  // torch returns a zero norm for no gradients and leaves nothing to clip
  if (Object.keys(grads).length === 0) return { grads, totalNorm: 0, clipped: false };
  const norms = Object.values(grads).map((g) => tensorNorm(g, normType));
  const totalNorm = tensorNorm({ shape: [norms.length], data: Float64Array.from(norms) }, normType);
  const coef = maxNorm / (totalNorm + 1e-6);
  // NOTE: torch multiplies by clamp(coef, max=1), which is a no-op at 1 but propagates NaN: a
  // non-finite norm (inf/NaN gradients) is applied too, as torch does with error_if_nonfinite=False.
  if (coef >= 1) return { grads, totalNorm, clipped: false };
  const out = Object.entries(grads).map(([name, g]): [string, Tensor] => {
    const data = g.data.slice();
    for (let i = 0; i < data.length; i++) data[i] = data[i]! * coef;
    return [name, { shape: [...g.shape], data }];
  });
  return { grads: Object.fromEntries(out), totalNorm, clipped: true };
}
