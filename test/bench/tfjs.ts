// TensorFlow.js peers: the same MLP gradient on @tensorflow/tfjs's cpu backend (plain JavaScript) and on
// @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, one thread in Node).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as TF from '@tensorflow/tfjs';
import { median, repeat, type MlpData, type MlpModel } from './common.js';

export type TfBackend = 'cpu' | 'wasm';

let tf: typeof TF | null = null;

async function load(root: string): Promise<typeof TF> {
  if (tf) return tf;
  tf = await import('@tensorflow/tfjs');
  // production mode skips debug checks and the "install tfjs-node" banner on stdout
  tf.enableProdMode();
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // the .wasm files are read from node_modules (a prefix ending in '/')
  wasm.setWasmPaths(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/');
  return tf;
}

export interface PeerTiming {
  forwardMs: number;
  /** forward + backward: one tf.variableGrads call with every gradient read back */
  totalMs: number;
  /** totalMs − forwardMs (both medians of the same run) */
  backwardMs: number;
}

export interface TfjsResult extends PeerTiming {
  /** the peer's gradients by gradserve's parameter names, in nn.Linear's layout (to check they agree) */
  gradients: Record<string, Float32Array>;
}

/** Median forward time and forward+backward time of one gradient of `m` on a tfjs backend. */
export async function tfjsPeer(root: string, backend: TfBackend, m: MlpModel, data: MlpData, warmup: number, runs: number): Promise<TfjsResult> {
  const t = await load(root);
  if (!(await t.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialize`);
  await t.ready();
  const layers = m.sizes.length - 1;
  const x = t.tensor2d(data.inputs.data as Float32Array, data.inputs.shape as [number, number]);
  const labels = t.oneHot(t.tensor1d(Int32Array.from(data.targets.data), 'int32'), m.sizes.at(-1)!).toFloat();
  // Weights in tf.layers.dense's layout, kernel [in, out] (Wᵀ of nn.Linear's [out, in]): x · kernel is
  // tfjs's fast path (tfjs-backend-wasm runs x · Wᵀ with transposeB about 10× slower). The gradients
  // are the same numbers, transposed.
  const vars: TF.Variable[] = [];
  for (let i = 0; i < layers; i++) {
    const w = data.params[`layers.${i}.weight`]!;
    const b = data.params[`layers.${i}.bias`]!;
    const kernel = t.tidy(() => t.tensor2d(w.data as Float32Array, w.shape as [number, number]).transpose());
    vars.push(t.variable(kernel, true, `layers.${i}.kernel`));
    kernel.dispose();
    vars.push(t.variable(t.tensor1d(b.data as Float32Array), true, `layers.${i}.bias`));
  }
  // ReLU between layers, mean cross-entropy over the batch
  const loss = (): TF.Scalar => {
    let h: TF.Tensor2D = x;
    for (let i = 0; i < layers; i++) {
      h = t.add(t.matMul(h, vars[2 * i]! as TF.Tensor2D), vars[2 * i + 1]!);
      if (i < layers - 1) h = t.relu(h);
    }
    return t.losses.softmaxCrossEntropy(labels, h) as TF.Scalar;
  };
  const forward = () => t.tidy(() => loss().dataSync());
  const gradient = () => {
    const { value, grads } = t.variableGrads(loss);
    value.dataSync();
    for (const g of Object.values(grads)) g.dataSync();
    t.dispose([value, ...Object.values(grads)]);
  };
  const time = (f: () => unknown) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const gradients = (): Record<string, Float32Array> => {
    const { value, grads } = t.variableGrads(loss);
    const out: Record<string, Float32Array> = {};
    for (let i = 0; i < layers; i++) {
      out[`layers.${i}.weight`] = t.tidy(() => grads[`layers.${i}.kernel`]!.transpose().dataSync() as Float32Array);
      out[`layers.${i}.bias`] = grads[`layers.${i}.bias`]!.dataSync() as Float32Array;
    }
    t.dispose([value, ...Object.values(grads)]);
    return out;
  };
  try {
    const fwd = median(await repeat(warmup, runs, () => time(forward)));
    const total = median(await repeat(warmup, runs, () => time(gradient)));
    return { forwardMs: fwd, totalMs: total, backwardMs: total - fwd, gradients: gradients() };
  } finally {
    t.dispose([x, labels, ...vars]);
  }
}
