import { defineConfig } from 'vitest/config';

// The suite runs twice over the code that computes: once on the default kernels (OpenBLAS where the
// library loads) and once with BLAS=off (the WebAssembly GEMM), so both production kernels pass the same
// tests. The kernel tests themselves already loop over every backend, so they run once.
const computeTests = ['test/engine/**/*.test.ts', 'test/routes/**/*.test.ts', 'test/workers/**/*.test.ts'];

export default defineConfig({
  test: {
    exclude: ['test/bench/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // CI also writes a JSON report so .ci/run can print a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    projects: [
      { extends: true, test: { name: 'default-kernels', include: ['test/**/*.test.ts'], env: { BLAS: 'auto' } } },
      {
        extends: true,
        test: {
          name: 'wasm-kernel',
          include: computeTests,
          exclude: ['test/engine/kernels/**', 'test/bench/**', 'node_modules/**', 'dist/**'],
          env: { BLAS: 'off' },
        },
      },
    ],
  },
});
