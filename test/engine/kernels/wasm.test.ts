import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETAIN_BYTES, loadWasmBackend, setWasmRetainBytes, wasmMemoryBytes } from '../../../src/engine/kernels/wasm.js';
import { ensureWasmBuilt } from './ensure-wasm.js';
import { check } from './gemm-check.js';

ensureWasmBuilt();
const wasm = loadWasmBackend();

describe('wasm backend memory', () => {
  afterEach(() => setWasmRetainBytes(DEFAULT_RETAIN_BYTES));

  it('keeps its grown memory between calls of retainable size', () => {
    check(wasm, 'float64', { transA: false, transB: false, m: 40, n: 50, k: 60 });
    const held = wasmMemoryBytes();
    expect(held).toBeGreaterThanOrEqual((40 * 60 + 60 * 50 + 40 * 50) * 8);
    check(wasm, 'float32', { transA: true, transB: true, m: 4, n: 5, k: 6, beta: 1 });
    expect(wasmMemoryBytes()).toBe(held);
  });

  it('drops an instance that needed more than the retained size, and recovers on the next call', () => {
    setWasmRetainBytes(0);
    check(wasm, 'float64', { transA: false, transB: true, m: 33, n: 17, k: 300, beta: 0.5 });
    expect(wasmMemoryBytes()).toBe(0);
    check(wasm, 'float32', { transA: true, transB: false, m: 9, n: 12, k: 5, alpha: 2, beta: -1 });
    expect(wasmMemoryBytes()).toBe(0);
    setWasmRetainBytes(DEFAULT_RETAIN_BYTES);
    check(wasm, 'float32', { transA: false, transB: false, m: 9, n: 12, k: 5, nanC: true });
    expect(wasmMemoryBytes()).toBeGreaterThan(0);
  });

  it('rejects a negative retain size', () => {
    expect(() => setWasmRetainBytes(-1)).toThrow(RangeError);
  });
});
