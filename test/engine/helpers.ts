import type { DecodedGraphSpec, GradientsJob, Limits } from '../../src/engine/api.js';
import type { GraphSpec, Options } from '../../src/wire/spec.js';
import { tensor, type Tensor } from '../../src/engine/tensor.js';
import { twoWeightModel } from '../../src/routes/shared/examples.js';

// Jobs for the engine tests, written as a client would send them (after decoding).

export const LIMITS: Limits = { maxElements: 10_000_000, maxNodes: 500_000 };

export function options(over: Partial<Options> = {}): Options {
  return {
    dtype: 'float64',
    encoding: 'nested',
    returnOutputs: false,
    returnIntermediates: false,
    inputGradients: false,
    diagnostics: true,
    ...over,
  };
}

export const s64 = (x: number): Tensor => tensor([], [x], 'float64');

type GraphInput = Partial<Omit<GraphSpec, 'type' | 'constants'>> & Pick<GraphSpec, 'nodes' | 'output'> & { constants?: Record<string, Tensor> };

export function graph(g: GraphInput): DecodedGraphSpec {
  return { type: 'graph', inputs: [], params: {}, constants: {}, ...g };
}

export function graphJob(g: GraphInput, rest: Partial<GradientsJob> = {}): GradientsJob {
  return { model: graph(g), params: {}, inputs: {}, options: options(), ...rest };
}

/** The README's two-weight chain: L = 6.25, dL/dw2 = −5, dL/dw1 = 15. */
export function twoWeightJob(over: Partial<GradientsJob> = {}): GradientsJob {
  return graphJob(
    twoWeightModel,
    { params: { w1: s64(0.5), w2: s64(-1.5) }, inputs: { x: s64(2), t: s64(1) }, ...over },
  );
}
