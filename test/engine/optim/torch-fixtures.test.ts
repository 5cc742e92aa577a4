import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clipGradNorm, step, type OptimizerState } from '../../../src/engine/optim/index.js';
import { tensor, type DType, type Tensor } from '../../../src/engine/tensor.js';
import { expectClose } from '../../helpers/op-check.js';

// Replays test/fixtures/optim/torch-optim.json, written by scripts/gen-optim-fixtures.py with
// PyTorch (torch.optim single-tensor path, float64 unless the case says float32).

interface Flat {
  shape: number[];
  data: number[];
}
type FlatState = Record<string, Record<string, Flat | number>>;
interface Case {
  name: string;
  dtype: DType;
  config: { type: string } & Record<string, unknown>;
  params: Record<string, Flat>;
  steps: { grads: Record<string, Flat>; params: Record<string, Flat>; state: FlatState }[];
}
interface ClipCase {
  maxNorm: number;
  normType: number | 'inf';
  grads: Record<string, Flat>;
  totalNorm: number;
  clipped: Record<string, Flat>;
}

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/optim/torch-optim.json', import.meta.url), 'utf8')) as {
  torch: string;
  optimizers: Case[];
  clipGradNorm: ClipCase[];
};

const decode = (m: Record<string, Flat>, dtype: DType): Record<string, Tensor> =>
  Object.fromEntries(Object.entries(m).map(([k, t]) => [k, tensor(t.shape, t.data, dtype)]));

const encode = (t: Tensor): Flat => ({ shape: [...t.shape], data: Array.from(t.data) });

/** The state as a client would carry it: through JSON and back into tensors of the request dtype. */
function roundTrip(s: OptimizerState, dtype: DType): OptimizerState {
  const json = JSON.stringify({
    step: s.step,
    state: Object.fromEntries(
      Object.entries(s.state).map(([p, bufs]) => [
        p,
        Object.fromEntries(Object.entries(bufs).map(([k, v]) => [k, typeof v === 'number' ? v : encode(v)])),
      ]),
    ),
  });
  const raw = JSON.parse(json) as { step: number; state: FlatState };
  return {
    step: raw.step,
    state: Object.fromEntries(
      Object.entries(raw.state).map(([p, bufs]) => [
        p,
        Object.fromEntries(Object.entries(bufs).map(([k, v]) => [k, typeof v === 'number' ? v : tensor(v.shape, v.data, dtype)])),
      ]),
    ),
  };
}

describe(`torch.optim fixtures (torch ${fixture.torch})`, () => {
  it('covers every optimizer type', () => {
    expect(new Set(fixture.optimizers.map((c) => c.config.type))).toEqual(new Set(['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad']));
  });

  for (const c of fixture.optimizers) {
    // float64 must agree to 1e-12; float32 within a few float32 ulps after three steps
    const tol = c.dtype === 'float64' ? 1e-12 : 1e-6;
    it(`${c.name}: three chained steps match torch (${c.dtype})`, () => {
      let params = decode(c.params, c.dtype);
      let state: OptimizerState | undefined;
      c.steps.forEach((expected, k) => {
        const out = step(c.config as never, params, decode(expected.grads, c.dtype), state);
        for (const [name, want] of Object.entries(expected.params)) {
          expect(out.params[name]!.shape).toEqual(want.shape);
          expect(out.params[name]!.data).toBeInstanceOf(c.dtype === 'float64' ? Float64Array : Float32Array);
          try {
            expectClose(out.params[name]!, want.data, tol);
          } catch (e) {
            throw new Error(`step ${k + 1}, param ${name}: ${(e as Error).message}`);
          }
        }
        expect(out.state.step).toBe(k + 1);
        for (const [name, bufs] of Object.entries(expected.state)) {
          const ours = out.state.state[name]!;
          expect(Object.keys(ours).sort()).toEqual(Object.keys(bufs).sort());
          for (const [key, want] of Object.entries(bufs)) {
            if (typeof want === 'number') expect(ours[key]).toBe(want);
            else {
              try {
                expectClose(ours[key] as Tensor, want.data, tol);
              } catch (e) {
                throw new Error(`step ${k + 1}, state ${name}.${key}: ${(e as Error).message}`);
              }
            }
          }
        }
        params = out.params;
        state = roundTrip(out.state, c.dtype);
      });
    });
  }
});

describe('clip_grad_norm_ fixtures', () => {
  for (const c of fixture.clipGradNorm) {
    it(`max_norm ${c.maxNorm}, norm_type ${c.normType} matches torch`, () => {
      const normType = c.normType === 'inf' ? Infinity : c.normType;
      const grads = decode(c.grads, 'float64');
      const out = clipGradNorm(grads, c.maxNorm, normType);
      expect(Math.abs(out.totalNorm - c.totalNorm)).toBeLessThanOrEqual(1e-12 * c.totalNorm);
      expect(out.clipped).toBe(c.maxNorm / (c.totalNorm + 1e-6) < 1);
      for (const [name, want] of Object.entries(c.clipped)) expectClose(out.grads[name]!, want.data, 1e-12);
    });
  }
});
