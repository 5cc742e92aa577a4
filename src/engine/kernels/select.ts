import type { GemmBackend } from './gemm.js';
import { blasLoadFailures, loadOpenBlasBackend } from './openblas.js';
import { referenceBackend } from './reference.js';
import { loadWasmBackend } from './wasm.js';

/**
 * The backend for a BLAS setting: 'auto' = OpenBLAS when a library loads, else WebAssembly (else, with
 * a warning, the slow reference); 'off' = WebAssembly only; anything else = the path of a CBLAS library,
 * which must load. Explicit choices throw rather than fall back.
 */
export function selectBackend(blas: string): GemmBackend {
  if (blas === 'off') return loadWasmBackend();
  if (blas !== 'auto') return loadOpenBlasBackend(blas)!;
  const native = loadOpenBlasBackend('auto');
  if (native) return native;
  try {
    return loadWasmBackend();
  } catch (err) {
    process.emitWarning(`gemm: no BLAS and no wasm kernel (${(err as Error).message}); using the slow reference`);
    return referenceBackend;
  }
}

export interface BackendProbe {
  name: string;
  backend: GemmBackend | null;
  /** Why the backend is unavailable, when it is. */
  reason?: string;
}

/** Every production backend with its availability here (tests run the same suite on each). */
export function probeBackends(): BackendProbe[] {
  const probes: BackendProbe[] = [];
  try {
    const native = loadOpenBlasBackend('auto');
    probes.push(
      native
        ? { name: 'openblas', backend: native }
        : { name: 'openblas', backend: null, reason: `no CBLAS library found: ${blasLoadFailures().join('; ')}` },
    );
  } catch (err) {
    probes.push({ name: 'openblas', backend: null, reason: (err as Error).message });
  }
  try {
    probes.push({ name: 'wasm', backend: loadWasmBackend() });
  } catch (err) {
    probes.push({ name: 'wasm', backend: null, reason: (err as Error).message });
  }
  return probes;
}
