import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../src/engine/errors.js';
import { computeFans, initialize, InitSpecSchema } from '../../../src/engine/init/index.js';

const spec = (raw: unknown) => InitSpecSchema.parse(raw);

function moments(d: ArrayLike<number>) {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  const mean = s / d.length;
  let m2 = 0;
  let m4 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    const c = d[i]! - mean;
    m2 += c * c;
    m4 += c ** 4;
    min = Math.min(min, d[i]!);
    max = Math.max(max, d[i]!);
  }
  const variance = m2 / d.length;
  return { mean, variance, kurtosis: m4 / d.length / variance ** 2, min, max };
}

describe('computeFans', () => {
  it('follows torch: [out, in] weights, receptive fields for higher ranks, none below rank 2', () => {
    expect(computeFans([256, 400])).toEqual({ fanIn: 400, fanOut: 256 });
    expect(computeFans([8, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 200 });
    expect(computeFans([4, 2, 7])).toEqual({ fanIn: 14, fanOut: 28 });
    expect(computeFans([3])).toBeUndefined();
    expect(computeFans([])).toBeUndefined();
  });
});

describe('initialize', () => {
  it('gives pinned values for a seed and stream (portable generator)', () => {
    // U(±1/√3) for a [2, 3] weight; reproduced bit for bit by an independent Python re-implementation
    const w = initialize(spec({ scheme: 'default', seed: 42 }), [2, 3], 'float64', { stream: 'layers.0.weight' });
    expect(Array.from(w.data)).toEqual([
      -0.1877455106865314, 0.3116727475766824, -0.10269014520396863, -0.11005387641829789, 0.0878792288816973,
      0.4128392254395197,
    ]);
    const n = initialize(spec({ scheme: 'normal' }), [4], 'float64', { stream: 'w1' });
    // NOTE: Box–Muller goes through Math.log/cos/sin; V8 computes them with its own fdlibm port, so
    // they do not depend on the platform's libm (Python's libm differs from these in the last bit).
    expect(Array.from(n.data)).toEqual([-0.6562760217014867, -0.5334651318102718, 1.1210449497969392, 0.9000514452239813]);
  });

  it('is deterministic per spec, seed and stream, and streams differ', () => {
    const s = spec({ scheme: 'he_normal', seed: 7 });
    const a = initialize(s, [5, 6], 'float64', { stream: 'a' });
    expect(initialize(s, [5, 6], 'float64', { stream: 'a' }).data).toEqual(a.data);
    expect(initialize(s, [5, 6], 'float64', { stream: 'b' }).data).not.toEqual(a.data);
    expect(initialize(spec({ scheme: 'he_normal', seed: 8 }), [5, 6], 'float64', { stream: 'a' }).data).not.toEqual(a.data);
  });

  it('rounds float64 draws to float32', () => {
    const s = spec({ scheme: 'xavier_normal', seed: 3 });
    const d64 = initialize(s, [3, 4], 'float64').data;
    const d32 = initialize(s, [3, 4], 'float32').data;
    expect(d32).toBeInstanceOf(Float32Array);
    expect(Array.from(d32)).toEqual(Array.from(d64, Math.fround));
  });

  const N: [number, number] = [256, 400]; // fan_in 400, fan_out 256
  const cases: [string, unknown, { mean: number; variance: number; bound?: number; kurtosis: number }][] = [
    ['default', { scheme: 'default' }, { mean: 0, variance: 1 / 400 / 3, bound: 1 / 20, kurtosis: 1.8 }],
    ['xavier_uniform', { scheme: 'xavier_uniform' }, { mean: 0, variance: 2 / 656, bound: Math.sqrt(6 / 656), kurtosis: 1.8 }],
    ['xavier_uniform gain 2', { scheme: 'xavier_uniform', gain: 2 }, { mean: 0, variance: 8 / 656, bound: 2 * Math.sqrt(6 / 656), kurtosis: 1.8 }],
    ['xavier_normal', { scheme: 'xavier_normal' }, { mean: 0, variance: 2 / 656, kurtosis: 3 }],
    ['he_uniform', { scheme: 'he_uniform' }, { mean: 0, variance: 2 / 400, bound: Math.sqrt(6 / 400), kurtosis: 1.8 }],
    ['he_normal', { scheme: 'he_normal' }, { mean: 0, variance: 2 / 400, kurtosis: 3 }],
    ['he_normal fan_out', { scheme: 'he_normal', mode: 'fan_out' }, { mean: 0, variance: 2 / 256, kurtosis: 3 }],
    ['he_uniform a=1', { scheme: 'he_uniform', a: 1 }, { mean: 0, variance: 1 / 400, bound: Math.sqrt(3 / 400), kurtosis: 1.8 }],
    ['lecun_normal', { scheme: 'lecun_normal' }, { mean: 0, variance: 1 / 400, kurtosis: 3 }],
    ['normal', { scheme: 'normal', mean: 3, std: 2 }, { mean: 3, variance: 4, kurtosis: 3 }],
    ['uniform', { scheme: 'uniform', low: -1, high: 3 }, { mean: 1, variance: 16 / 12, kurtosis: 1.8 }],
  ];
  for (const [name, raw, want] of cases) {
    it(`draws ${name} with the right mean, variance, shape and bounds`, () => {
      const t = initialize(spec(raw), N, 'float64', { stream: name });
      const m = moments(t.data);
      const sd = Math.sqrt(want.variance);
      const n = t.data.length;
      // 5 standard errors of the mean; ~3% on the variance (its relative error is ~0.3–0.5% here)
      expect(Math.abs(m.mean - want.mean)).toBeLessThan((5 * sd) / Math.sqrt(n));
      expect(Math.abs(m.variance / want.variance - 1)).toBeLessThan(0.03);
      expect(Math.abs(m.kurtosis - want.kurtosis)).toBeLessThan(0.1);
      if (want.bound !== undefined) {
        expect(m.min).toBeGreaterThanOrEqual(-want.bound);
        expect(m.max).toBeLessThan(want.bound);
        expect(m.max - m.min).toBeGreaterThan(1.99 * want.bound);
      }
    });
  }

  it('keeps uniform draws inside [low, high)', () => {
    const m = moments(initialize(spec({ scheme: 'uniform', low: -1, high: 3 }), N, 'float64').data);
    expect(m.min).toBeGreaterThanOrEqual(-1);
    expect(m.max).toBeLessThan(3);
  });

  it('gives normals about 68.27% of draws within one standard deviation', () => {
    const d = initialize(spec({ scheme: 'normal' }), N, 'float64').data;
    let inside = 0;
    for (const x of d) if (Math.abs(x) < 1) inside++;
    expect(Math.abs(inside / d.length - 0.6827)).toBeLessThan(0.008);
  });

  it('fills zeros, ones and constants', () => {
    expect(Array.from(initialize(spec({ scheme: 'zeros' }), [2, 2], 'float32').data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(initialize(spec({ scheme: 'ones' }), [3], 'float64').data)).toEqual([1, 1, 1]);
    expect(Array.from(initialize(spec({ scheme: 'constant', value: -2.5 }), [], 'float64').data)).toEqual([-2.5]);
  });

  it("takes a bias's fan_in from its layer, and refuses fan-based schemes on rank < 2 without one", () => {
    const b = initialize(spec({ scheme: 'default' }), [1000], 'float64', { fanIn: 25 });
    const m = moments(b.data);
    expect(m.min).toBeGreaterThanOrEqual(-0.2);
    expect(m.max).toBeLessThan(0.2);
    expect(m.max).toBeGreaterThan(0.19);
    expect(initialize(spec({ scheme: 'default' }), [4], 'float64', { fanIn: 0 }).data).toEqual(new Float64Array(4));

    const err = (() => {
      try {
        initialize(spec({ scheme: 'xavier_uniform' }), [3], 'float64', { fanIn: 3, path: ['model', 'params', 'b', 'init'] });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).path).toEqual(['model', 'params', 'b', 'init', 'scheme']);
    expect(() => initialize(spec({ scheme: 'he_normal' }), [], 'float64')).toThrow(SpecError);
    expect(() => initialize(spec({ scheme: 'xavier_normal' }), [3], 'float64', { fanIn: 3, fanOut: 4 })).not.toThrow();
    expect(() => initialize(spec({ scheme: 'normal' }), [3], 'float64')).not.toThrow();
    expect(() => initialize(spec({ scheme: 'default' }), [3], 'float64', { fanIn: -1 })).toThrow(RangeError);
  });

  it('leaves zero-element tensors empty without asking for fans, as torch', () => {
    const t = initialize(spec({ scheme: 'he_uniform' }), [0], 'float32');
    expect(t.shape).toEqual([0]);
    expect(t.data.length).toBe(0);
  });
});

describe('InitSpecSchema', () => {
  it('fills PyTorch defaults and seed 0', () => {
    expect(spec({ scheme: 'he_normal' })).toEqual({ scheme: 'he_normal', a: 0, mode: 'fan_in', seed: 0 });
    expect(spec({ scheme: 'xavier_uniform' })).toEqual({ scheme: 'xavier_uniform', gain: 1, seed: 0 });
    expect(spec({ scheme: 'normal', seed: 5 })).toEqual({ scheme: 'normal', mean: 0, std: 1, seed: 5 });
    expect(spec({ scheme: 'uniform' })).toEqual({ scheme: 'uniform', low: 0, high: 1, seed: 0 });
  });

  it('rejects unknown schemes and keys, bad ranges and seeds', () => {
    const bad = [
      { scheme: 'orthogonal' },
      { scheme: 'normal', sd: 1 },
      { scheme: 'normal', std: -1 },
      { scheme: 'uniform', low: 2, high: 1 },
      { scheme: 'constant' },
      { scheme: 'zeros', seed: -1 },
      { scheme: 'zeros', seed: 1.5 },
      { scheme: 'he_normal', mode: 'fan_avg' },
    ];
    for (const raw of bad) expect(InitSpecSchema.safeParse(raw).success, JSON.stringify(raw)).toBe(false);
  });
});
