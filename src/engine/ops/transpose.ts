import { z } from 'zod';
import { defineOp } from '../op.js';
import type { Shape } from '../tensor.js';
import { normalizePerm, permute } from './axes.js';

export const TransposeAttrsSchema = z.strictObject({
  perm: z
    .array(z.number().int())
    .optional()
    .describe('output axis k is input axis perm[k] (torch.permute; negative axes allowed); omit to reverse all axes'),
});

const permOf = (shape: Shape, perm: readonly number[] | undefined): number[] =>
  perm ? normalizePerm(perm, shape) : shape.map((_, i) => shape.length - 1 - i);

export const transpose = defineOp({
  name: 'transpose',
  arity: 1,
  attrs: TransposeAttrsSchema,
  summary: 'permutes the axes as torch.permute; reverses them when perm is omitted (numpy .T)',
  derivative: '∂L/∂x = g permuted by the inverse permutation',
  shape: ([x], { perm }) => permOf(x!, perm).map((p) => x![p]!),
  forward: ([x], { perm }) => permute(x!, permOf(x!.shape, perm)),
  vjp: ([x], _out, g, { perm }) => {
    const p = permOf(x!.shape, perm);
    const inverse = new Array<number>(p.length);
    p.forEach((src, k) => (inverse[src] = k));
    return [permute(g, inverse)];
  },
});
