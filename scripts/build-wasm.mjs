// Compiles the AssemblyScript SIMD kernels (src/engine/kernels/wasm/assembly: the GEMM, relu, tanh, sigmoid, gelu,
// leaky_relu, activation gradients, a sum of squares) to build/gemm.wasm.
// The runtime finds that file by walking up from its own module to the package root, so the same
// binary serves the TypeScript sources (vitest) and the compiled dist/ tree.
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/engine/kernels/wasm/assembly/gemm.ts');
const outFile = join(root, 'build/gemm.wasm');

await mkdir(dirname(outFile), { recursive: true });
// Written aside and renamed into place, so a concurrent reader never sees a half-written module.
const tmpFile = `${outFile}.${process.pid}.tmp`;
const { error, stderr } = await asc.main([
  entry,
  '--outFile', tmpFile,
  '-O3', '--noAssert',
  // No allocator and no GC: the module only uses linear memory that the JS side lays out.
  '--runtime', 'stub',
  '--enable', 'simd',
]);
const diagnostics = stderr.toString();
if (diagnostics) console.error(diagnostics);
if (error) {
  console.error(`build-wasm: ${error.message}`);
  process.exit(1);
}
await rename(tmpFile, outFile);
console.log(`build-wasm: wrote ${outFile}`);
