import { SpecError, type Path } from '../errors.js';
import { allocData, BEYOND_FLOAT32, firstNonFinite, size, type DType, type Shape, type Tensor } from '../tensor.js';
import { computeFans, type Fans } from './fans.js';
import { seededRng, type Xoshiro128 } from './prng.js';
import type { InitSpec } from './schema.js';

export { InitSpecSchema, type InitSpec, type InitScheme } from './schema.js';
export { computeFans, type Fans } from './fans.js';
export { seededRng, Xoshiro128 } from './prng.js';

export interface InitOptions {
  /** overrides the fan_in computed from the shape; required for rank < 2 (a bias passes its weight's fan_in) */
  fanIn?: number;
  /** overrides the fan_out computed from the shape */
  fanOut?: number;
  /** names the parameter, so that parameters under one seed draw different values */
  stream?: string | number;
  /** where the spec sits in the request, for error paths */
  path?: Path;
}

type Sampler =
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'fill'; value: number };

/** What the spec draws from, once the fans are known. */
function sampler(spec: InitSpec, fan: (which: keyof Fans) => number): Sampler {
  const symmetric = (bound: number): Sampler => ({ kind: 'uniform', low: -bound, high: bound });
  switch (spec.scheme) {
    case 'default': {
      // NOTE: nn.Linear uses kaiming_uniform_(a=√5), whose bound gain·√(3/fan_in) with gain = √(2/6)
      // is exactly 1/√fan_in; its bias uses the same bound. A fan of 0 gives an empty range, as torch.
      const fanIn = fan('fanIn');
      return symmetric(fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0);
    }
    case 'xavier_uniform':
    case 'xavier_normal': {
      const std = spec.gain * Math.sqrt(2 / (fan('fanIn') + fan('fanOut')));
      return spec.scheme === 'xavier_normal' ? { kind: 'normal', mean: 0, std } : symmetric(Math.sqrt(3) * std);
    }
    case 'he_uniform':
    case 'he_normal': {
      const std = Math.sqrt(2 / (1 + spec.a * spec.a)) / Math.sqrt(fan(spec.mode === 'fan_in' ? 'fanIn' : 'fanOut'));
      return spec.scheme === 'he_normal' ? { kind: 'normal', mean: 0, std } : symmetric(Math.sqrt(3) * std);
    }
    case 'lecun_normal':
      return { kind: 'normal', mean: 0, std: 1 / Math.sqrt(fan('fanIn')) };
    case 'normal':
      return { kind: 'normal', mean: spec.mean, std: spec.std };
    case 'uniform':
      return { kind: 'uniform', low: spec.low, high: spec.high };
    case 'zeros':
      return { kind: 'fill', value: 0 };
    case 'ones':
      return { kind: 'fill', value: 1 };
    case 'constant':
      return { kind: 'fill', value: spec.value };
  }
}

/** A fan from the options, else from the shape; an error naming the spec when neither defines it. */
function fanOf(spec: InitSpec, shape: Shape, opts: InitOptions, which: keyof Fans): number {
  const given = opts[which];
  if (given !== undefined && !(given >= 0 && Number.isFinite(given))) {
    throw new RangeError(`${which} must be finite and >= 0, got ${given}`);
  }
  const value = given ?? computeFans(shape)?.[which];
  if (value === undefined) {
    throw new SpecError(
      [...(opts.path ?? []), 'scheme'],
      `${spec.scheme} needs the fans of a weight, which PyTorch defines only for rank >= 2 ([out, in, ...]); ` +
        `shape [${shape.join(', ')}] has none: use a normal, uniform or constant scheme for it`,
    );
  }
  return value;
}

function draw(s: Sampler, g: Xoshiro128, n: number, out: Float64Array): void {
  if (s.kind === 'fill') {
    out.fill(s.value);
    return;
  }
  if (s.kind === 'uniform') {
    const width = s.high - s.low;
    for (let i = 0; i < n; i++) out[i] = s.low + width * g.nextDouble();
  } else {
    for (let i = 0; i < n; i++) out[i] = s.mean + s.std * g.normal();
  }
}

/**
 * A tensor of `shape` and `dtype` drawn from `spec`. Deterministic: the same spec, shape, stream and
 * seed give the same values everywhere (draws are made in float64, then rounded to `dtype`).
 */
export function initialize(spec: InitSpec, shape: Shape, dtype: DType, opts: InitOptions = {}): Tensor {
  const n = size(shape);
  const values = new Float64Array(n);
  // torch.nn.init leaves zero-element tensors alone, without asking for their fans.
  if (n > 0) {
    const s = sampler(spec, (which) => fanOf(spec, shape, opts, which));
    draw(s, seededRng(spec.seed, opts.stream), n, values);
  }
  const data = allocData(n, dtype);
  data.set(values);
  // parameters of the scheme that draw past float32's range (a constant of 1e39) would start it at ±Infinity
  const bad = firstNonFinite(data);
  if (bad >= 0) {
    const why = Number.isFinite(values[bad]!) ? BEYOND_FLOAT32 : 'is not a finite number: narrow the scheme\'s parameters';
    throw new SpecError(opts.path ?? [], `${spec.scheme} draws ${values[bad]} at element ${bad}, which ${why}`);
  }
  return { shape: [...shape], data };
}
