import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { expect, it } from 'vitest';

// examples/api-types.d.ts is what openapi-typescript makes of the committed contract; when the
// contract changes, regenerate it, and the example client must still compile against it:
//   npx openapi-typescript openapi/openapi.json --default-non-nullable false -o examples/api-types.d.ts
// (--default-non-nullable false: a field with a default is optional in a request.)

const root = join(import.meta.dirname, '../..');

it('examples/api-types.d.ts is generated from openapi/openapi.json', async () => {
  const ast = await openapiTS(new URL(`file://${join(root, 'openapi/openapi.json')}`), { defaultNonNullable: false });
  const committed = readFileSync(join(root, 'examples/api-types.d.ts'), 'utf8');
  // not toBe: a 100 kB diff would drown the message
  expect(COMMENT_HEADER + astToString(ast) === committed, 'examples/api-types.d.ts is stale: regenerate it (command above)').toBe(true);
});
