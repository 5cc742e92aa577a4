import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const wasm = join(root, 'build/gemm.wasm');
const sources = join(root, 'src/engine/kernels/wasm/assembly');

/**
 * `npm test` builds first, but a bare `npx vitest run` does not: (re)build build/gemm.wasm when it is
 * missing or older than its AssemblyScript sources, so the tests never run a stale kernel.
 */
export function ensureWasmBuilt(): void {
  const newest = Math.max(...readdirSync(sources).map((f) => statSync(join(sources, f)).mtimeMs));
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs')], { stdio: 'inherit' });
}
