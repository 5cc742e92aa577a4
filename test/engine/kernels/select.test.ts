import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { gemm, gemmBackend, initKernels, setGemmBackend } from '../../../src/engine/kernels/index.js';
import { blasInfo, setBlasThreads } from '../../../src/engine/kernels/openblas.js';
import { referenceBackend } from '../../../src/engine/kernels/reference.js';
import { probeBackends } from '../../../src/engine/kernels/select.js';
import { wasmPath } from '../../../src/engine/kernels/wasm.js';
import { ensureWasmBuilt } from './ensure-wasm.js';

ensureWasmBuilt();
const openblas = probeBackends().find((p) => p.name === 'openblas')!;

describe('backend selection', () => {
  afterAll(() => setGemmBackend(referenceBackend));

  it('finds build/gemm.wasm at the package root', () => {
    expect(wasmPath()).toMatch(/build[\\/]gemm\.wasm$/);
    expect(existsSync(wasmPath())).toBe(true);
  });

  it('BLAS=off selects wasm', () => {
    expect(initKernels('off')).toBe('wasm');
    expect(gemmBackend().name).toBe('wasm');
  });

  it('BLAS=auto selects OpenBLAS when a library loads, else wasm', () => {
    expect(initKernels('auto')).toBe(openblas.backend ? 'openblas' : 'wasm');
  });

  it.skipIf(!openblas.backend)('an explicit library path is loaded', () => {
    const path = blasInfo()!.path;
    expect(initKernels(path)).toBe('openblas');
    expect(blasInfo()!.path).toBe(path);
  });

  it('an explicit path that cannot be loaded fails loudly instead of falling back', () => {
    expect(() => initKernels('/nonexistent/libopenblas.so')).toThrow(/cannot load/);
  });

  it('a library without CBLAS gemm is rejected', () => {
    expect(() => initKernels('libm.so.6')).toThrow(/no CBLAS gemm/);
  });

  it('gemm dispatches to the active backend', () => {
    const calls: string[] = [];
    setGemmBackend({ name: 'spy', gemm: (...args) => void calls.push(`${args.slice(0, 5).join(',')}`) });
    gemm(true, false, 2, 3, 4, 1, new Float64Array(8), 2, new Float64Array(12), 3, 0, new Float64Array(6), 3);
    expect(calls).toEqual(['true,false,2,3,4']);
  });

  it('rejects a thread count that is not a positive integer', () => {
    expect(() => setBlasThreads(0)).toThrow(RangeError);
    expect(() => setBlasThreads(1.5)).toThrow(RangeError);
    expect(() => setBlasThreads(1)).not.toThrow();
  });
});
