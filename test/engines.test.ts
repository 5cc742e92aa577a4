import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm ci` on the oldest Node that package.json's engines admit must not warn EBADENGINE: every
// package the lock file installs has to admit that Node too (package.json pins the ones whose newest
// versions do not, in `overrides`).

// npm's own range rules (semver is in the tree through several packages; it ships no types)
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string; major: number } | null;
  major(version: string): number;
};

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8'));

describe('Node versions', () => {
  it('every package in package-lock.json runs on the oldest Node that engines admits', () => {
    const pkg = read('package.json') as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)!;
    // the Node the suite runs on, so the check is about the versions users have, not a x.0.0 nobody runs
    const node = semver.major(process.version) === oldest.major ? process.version : oldest.version;
    const lock = read('package-lock.json') as { packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; os?: string[]; cpu?: string[] }> };
    const refused = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && !Array.isArray(p.engines) && typeof p.engines?.node === 'string')
      // platform packages (a binary per os and cpu) are installed only where they fit
      .filter(([, p]) => !(p.optional && (p.os || p.cpu)))
      .filter(([, p]) => !semver.satisfies(node, (p.engines as { node: string }).node))
      .map(([name, p]) => `${name} wants node ${(p.engines as { node: string }).node}`);
    expect(refused).toEqual([]);
  });
});
