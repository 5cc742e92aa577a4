import { expect, it } from 'vitest';
import { gemmBackend, probeBackends } from '../../src/engine/kernels/index.js';

// Pins which production kernel this run of the suite exercises (see vitest.config.ts projects), so a
// silent fall-back to another kernel cannot pass for coverage of the intended one.
it('computes on the kernel the BLAS setting selects', () => {
  const openblas = probeBackends().find((p) => p.name === 'openblas');
  const expected = process.env.BLAS === 'off' || !openblas?.backend ? 'wasm' : 'openblas';
  expect(gemmBackend().name).toBe(expected);
});
