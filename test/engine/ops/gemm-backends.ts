import { afterAll, beforeAll } from 'vitest';
import type { GemmBackend } from '../../../src/engine/kernels/gemm.js';
import { setGemmBackend } from '../../../src/engine/kernels/index.js';
import { referenceBackend } from '../../../src/engine/kernels/reference.js';
import { probeBackends } from '../../../src/engine/kernels/select.js';
import { ensureWasmBuilt } from '../kernels/ensure-wasm.js';

/** The reference GEMM and every production backend that loads here: the gemm-based op suites run on each. */
export function gemmBackends(): [string, GemmBackend][] {
  ensureWasmBuilt();
  const found = probeBackends().flatMap((p) => (p.backend ? [p.backend] : []));
  return [referenceBackend, ...found].map((b) => [b.name, b]);
}

/** Makes `backend` the active gemm for the enclosing describe block. */
export function useGemmBackend(backend: GemmBackend): void {
  beforeAll(() => setGemmBackend(backend));
  afterAll(() => setGemmBackend(referenceBackend));
}
