import type { DecodedGraphSpec, GradientsJob, Limits } from '../../src/engine/api.js';
import type { GraphSpec, Options } from '../../src/engine/spec.js';
import { tensor, type Tensor } from '../../src/engine/tensor.js';

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

/** h = w1·x, y = w2·h, L = (y − t)² with x = 2, t = 1, w1 = 0.5, w2 = −1.5: L = 6.25, dL/dw2 = −5, dL/dw1 = 15. */
export function twoWeightJob(over: Partial<GradientsJob> = {}): GradientsJob {
  return graphJob(
    {
      inputs: ['x', 't'],
      params: { w1: { shape: [] }, w2: { shape: [] } },
      nodes: [
        { id: 'h', op: 'mul', inputs: ['w1', 'x'] },
        { id: 'y', op: 'mul', inputs: ['w2', 'h'] },
        { id: 'L', op: 'mse_loss', inputs: ['y', 't'] },
      ],
      output: 'L',
    },
    { params: { w1: s64(0.5), w2: s64(-1.5) }, inputs: { x: s64(2), t: s64(1) }, ...over },
  );
}
