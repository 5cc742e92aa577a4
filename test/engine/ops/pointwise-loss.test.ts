import { describe, expect, it } from 'vitest';
import { bceLoss } from '../../../src/engine/ops/bce-loss.js';
import { bceWithLogitsLoss } from '../../../src/engine/ops/bce-with-logits-loss.js';
import { huberLoss } from '../../../src/engine/ops/huber-loss.js';
import { l1Loss } from '../../../src/engine/ops/l1-loss.js';
import { mseLoss } from '../../../src/engine/ops/mse-loss.js';
import { t64 } from '../../helpers/op-check.js';

// What the losses built by shared/loss.ts's factory share: each computes only the gradients asked for.

const p = t64([2, 3], [0.25, 0.5, 0.75, 0.1, 0.9, 0.4]);
const t = t64([2, 3], [0, 1, 1, 0, 1, 0]);

describe('pointwise losses', () => {
  it.each([mseLoss, l1Loss, huberLoss, bceLoss, bceWithLogitsLoss])('$name: one gradient when the engine needs one, equal to the full VJP\'s', (op) => {
    for (const reduction of ['mean', 'sum']) {
      const attrs = op.parseAttrs({ reduction });
      const out = op.forward([p, t], attrs);
      const g = t64([], [1.5]);
      const [gp, gt] = op.vjp([p, t], out, g, attrs);
      const onlyP = op.vjp([p, t], out, g, attrs, [true, false]);
      const onlyT = op.vjp([p, t], out, g, attrs, [false, true]);
      expect(onlyP[1]).toBeNull();
      expect(onlyT[0]).toBeNull();
      expect(onlyP[0]).toEqual(gp);
      expect(onlyT[1]).toEqual(gt);
    }
  });
});
