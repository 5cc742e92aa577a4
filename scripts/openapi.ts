import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { repoRoot } from '../src/plugins/openapi-document.js';

// openapi/openapi.json is generated from the live app's zod schemas, with the default configuration
// (so the published limits are the defaults, whatever this shell's environment says), its example
// answers computed on the WebAssembly kernels: their float32 sums are the same on every machine, while
// OpenBLAS's differ in the last bits from one CPU's kernels to another's (Haswell's and Cooperlake's
// do), and the committed file must not depend on where it was generated.
//   node dist/scripts/openapi.js write   regenerates the file
//   node dist/scripts/openapi.js check   exits 1 when the committed file is stale

export const OPENAPI_FILE = path.join(repoRoot(), 'openapi', 'openapi.json');

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp({ ...loadConfig({ BLAS: 'off' }), workers: 1, logLevel: 'silent' });
  try {
    // the document as served: its examples are the app's own answers
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    return `${JSON.stringify(r.json(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main(mode: string | undefined): Promise<number> {
  const doc = await generateOpenApi();
  if (mode === 'write') {
    mkdirSync(path.dirname(OPENAPI_FILE), { recursive: true });
    writeFileSync(OPENAPI_FILE, doc);
    process.stdout.write(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}\n`);
    return 0;
  }
  if (mode === 'check') {
    const committed = existsSync(OPENAPI_FILE) ? readFileSync(OPENAPI_FILE, 'utf8') : '';
    if (committed === doc) return 0;
    process.stderr.write(`${OPENAPI_FILE} is stale: run \`npm run openapi\` and commit the result\n`);
    return 1;
  }
  process.stderr.write('usage: openapi.js write|check\n');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv[2]);
}
