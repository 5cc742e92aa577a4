import type { OptimizerState } from '../../engine/api.js';
import type { Tensors } from '../../engine/spec.js';
import type { Tensor } from '../../engine/tensor.js';
import { encodeTensor, type Encoding, type ResultWireTensor } from '../../engine/wire.js';

// Engine results back into the request's options.encoding. Runs on the event loop, linear in the size.

export function encodeMap(map: Tensors, encoding: Encoding): Record<string, ResultWireTensor> {
  return Object.fromEntries(Object.entries(map).map(([k, t]) => [k, encodeTensor(t, encoding)]));
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && ArrayBuffer.isView((v as Tensor).data);
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

export interface Timing {
  queueMs: number;
  forwardMs: number;
  backwardMs: number;
  totalMs: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

export function roundTiming(t: Timing): Timing {
  return { queueMs: round(t.queueMs), forwardMs: round(t.forwardMs), backwardMs: round(t.backwardMs), totalMs: round(t.totalMs) };
}

/** The Server-Timing header (W3C) with the same figures as the body's `timing`. */
export function serverTiming(t: Timing): string {
  return [
    `queue;dur=${round(t.queueMs)}`,
    `forward;dur=${round(t.forwardMs)}`,
    `backward;dur=${round(t.backwardMs)}`,
    `total;dur=${round(t.totalMs)}`,
  ].join(', ');
}

export interface ComputeTiming {
  queueMs: number;
  computeMs: number;
  totalMs: number;
}

export function computeServerTiming(t: ComputeTiming): string {
  return `queue;dur=${round(t.queueMs)}, compute;dur=${round(t.computeMs)}, total;dur=${round(t.totalMs)}`;
}
