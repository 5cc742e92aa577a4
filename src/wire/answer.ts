import type { OptimizerState } from '../engine/api.js';
import type { Tensors } from '../engine/spec.js';
import { isTensor, type DType } from '../engine/tensor.js';
import { float32Number } from '../engine/float32-text.js';
import { encodeTensor, type Encoding, type ResultWireTensor } from './tensor.js';

// Engine results back into the request's options.encoding. Runs on the event loop, linear in the size.

export function encodeMap(map: Tensors, encoding: Encoding): Record<string, ResultWireTensor> {
  // own properties whatever the names (an ONNX initializer may be called anything): not out[k] = ...
  return Object.fromEntries(Object.entries(map).map(([k, t]) => [k, encodeTensor(t, encoding)]));
}

/**
 * A loss as an answer prints it: in float32, the shortest decimal that reads back as the same float32
 * (`0.74767923`, as torch prints a float32 loss, not the float64 digits of the same number); in
 * float64, and when not finite, as it is.
 */
export function lossNumber(loss: number, dtype: DType): number {
  return dtype === 'float32' && Number.isFinite(loss) ? float32Number(loss) : loss;
}

export function encodeState(state: OptimizerState, encoding: Encoding) {
  return {
    step: state.step,
    state: Object.fromEntries(
      Object.entries(state.state).map(([name, bufs]) => [
        name,
        Object.fromEntries(Object.entries(bufs).map(([k, v]) => [k, isTensor(v) ? encodeTensor(v, encoding) : v])),
      ]),
    ),
  };
}

