import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_JS, startServer, type ServerProcess } from '../reliability/server-process.js';

// Every code block of the README and of docs/examples.md, run as a reader would run it, against the real server process
// (what `npm start` runs, Node flags included) on 127.0.0.1: sh blocks with bash, python blocks
// with /usr/bin/python3, ts blocks transpiled and run by node. A json block shows (part of) the answer
// of the block before it and is compared with the real one; text blocks are not run. The one block
// that is not run is marked `<!-- readme-test: skip ... -->`.

const ROOT = path.resolve(path.dirname(SERVER_JS), '..', '..');
/** The pages whose code blocks run: the README and the longer examples it points to. */
const GUIDES = ['README.md', 'docs/examples.md'];
const PYTHON = '/usr/bin/python3';
const SKIP = /<!-- readme-test: skip\b[^>]*-->\s*$/;

interface Block {
  lang: string;
  code: string;
  line: number;
  skip: boolean;
}

function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```([\w-]*)\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) {
    const before = markdown.slice(0, m.index);
    blocks.push({ lang: m[1]!, code: m[2]!, line: before.split('\n').length, skip: SKIP.test(before) });
  }
  return blocks;
}

function run(file: string, args: string[], cwd: string, timeout = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout, env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONPATH: path.join(ROOT, 'examples/python') } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`)) : resolve(stdout),
    );
  });
}

/** `shown` as part of `actual`: the keys shown have these values (others may follow), arrays in full. */
function expectShown(actual: unknown, shown: unknown, at = '$'): void {
  if (Array.isArray(shown)) {
    expect(Array.isArray(actual), at).toBe(true);
    expect((actual as unknown[]).length, `${at}.length`).toBe(shown.length);
    shown.forEach((s, i) => expectShown((actual as unknown[])[i], s, `${at}[${i}]`));
  } else if (shown !== null && typeof shown === 'object') {
    expect(actual, at).toBeTypeOf('object');
    for (const [k, v] of Object.entries(shown)) {
      expect(Object.hasOwn(actual as object, k), `${at}.${k} in ${JSON.stringify(actual)}`).toBe(true);
      expectShown((actual as Record<string, unknown>)[k], v, `${at}.${k}`);
    }
  } else {
    expect(actual, at).toEqual(shown);
  }
}

/** tsc's errors for one file under the repository's tsconfig.json. */
function typeErrors(file: string): string[] {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config as object;
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram([file], { ...options, noEmit: true, rootDir: undefined });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/** The problems among an output's JSON lines: a curl -s block must not quietly print an error. */
const problemsIn = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type?: unknown })
    .filter((j) => typeof j.type === 'string' && j.type.startsWith('urn:gradserve:problem:'));

for (const page of GUIDES) {
const markdown = await readFile(path.join(ROOT, page), 'utf8');
const blocks = codeBlocks(markdown);

describe(page, () => {
  let server: ServerProcess;
  let cwd: string;
  let port: string;
  const outputs = new Map<Block, string>();

  beforeAll(async () => {
    server = await startServer({ WORKERS: '1' });
    port = new URL(server.base).port;
    cwd = await mkdtemp(path.join(tmpdir(), 'gradserve-readme-'));
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it.runIf(page === 'README.md')('is short, starts with the two commands, and marks only those as not run', () => {
    expect(markdown.split('\n').length).toBeLessThan(250);
    const skipped = blocks.filter((b) => b.skip);
    expect(skipped).toEqual([blocks[0]]);
    expect(blocks[0]!.code).toMatch(/^npm ci && npm start .*\nnpm ci && npm test /);
  });

  it('has runnable blocks only, each json block after the block whose answer it shows', () => {
    expect(blocks.length).toBeGreaterThan(0);
    if (page !== 'README.md') expect(blocks.filter((b) => b.skip)).toEqual([]);
    for (const b of blocks) expect(['sh', 'python', 'ts', 'json', 'text'], `line ${b.line}: \`\`\`${b.lang}`).toContain(b.lang);
    blocks.forEach((b, i) => b.lang === 'json' && expect(['sh', 'python', 'ts'], `line ${b.line}`).toContain(blocks[i - 1]?.lang));
  });

  it('the start log says where Swagger UI is', () => {
    expect(server.output()).toContain(`Swagger UI on ${server.base}/docs`);
  });

  // in order: later blocks use what earlier ones wrote (chain.json)
  const local = (code: string) => code.replaceAll('localhost:3000', `127.0.0.1:${port}`);
  for (const [i, block] of blocks.entries()) {
    if (block.skip || block.lang === 'text') continue;
    const name = `line ${block.line}: ${block.lang} ${block.code.split('\n')[0]!.slice(0, 60)}`;
    const runs = (b: Block, out: string) => {
      outputs.set(b, out);
      expect(problemsIn(out), out).toEqual([]);
    };
    if (block.lang === 'sh') {
      it(`runs ${name}`, async () => runs(block, await run('bash', ['-euo', 'pipefail', '-c', local(block.code)], cwd)));
    } else if (block.lang === 'python') {
      it.skipIf(!existsSync(PYTHON))(`runs ${name}`, async () => {
        await writeFile(path.join(cwd, `block-${i}.py`), local(block.code));
        runs(block, await run(PYTHON, [`block-${i}.py`], cwd));
      });
    } else if (block.lang === 'ts') {
      it(`type-checks ${name}`, async () => {
        // as if it were in examples/, where the README says to put it: its imports point there
        const file = path.join(cwd, `block-${i}.mts`);
        await writeFile(file, block.code.replace(/from '\.\/([\w-]+)\.js'/g, (_m, f: string) => `from '${path.join(ROOT, 'examples', `${f}.js`)}'`));
        expect(typeErrors(file)).toEqual([]);
      });
      it(`runs ${name}`, async () => {
        // as the README says: a file in examples/, built into dist/examples/
        const js = ts
          .transpileModule(local(block.code), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } })
          .outputText.replace(/from '\.\/([\w-]+)\.js'/g, (_m, f: string) => `from '${pathToFileURL(path.join(ROOT, 'dist', 'examples', `${f}.js`)).href}'`);
        await writeFile(path.join(cwd, `block-${i}.mjs`), js);
        runs(block, await run(process.execPath, [`block-${i}.mjs`], cwd));
      });
    } else if (block.lang === 'json') {
      it(`shows the real answer at ${name}`, () => {
        const out = outputs.get(blocks[i - 1]!);
        expect(out, 'the block before did not run').toBeTypeOf('string');
        expect(out!.endsWith('}\n'), 'one JSON answer ending with a newline').toBe(true);
        expectShown(JSON.parse(out!), JSON.parse(block.code));
      });
    }
  }
});
}

describe('expectShown (the comparison of a shown answer with the real one)', () => {
  it('accepts a part, refuses a wrong value, a missing key or an array of another length', () => {
    const real = { loss: 6.25, gradients: { w1: 15, w2: -5 }, list: [{ a: 1, b: 2 }], timing: { totalMs: 3 } };
    expectShown(real, { loss: 6.25, list: [{ a: 1 }] });
    expect(() => expectShown(real, { loss: 6.5 })).toThrow();
    expect(() => expectShown(real, { gradients: { w3: 1 } })).toThrow();
    expect(() => expectShown(real, { list: [] })).toThrow();
  });
});

describe('links in README.md and docs/', () => {
  const slug = (heading: string) =>
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replaceAll(' ', '-');

  it('point to files and headings that exist', async () => {
    const pages = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const page of pages) {
      const text = await readFile(path.join(ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = file === '' ? page : path.posix.join(path.posix.dirname(page), file);
        if (!existsSync(path.join(ROOT, resolved))) {
          broken.push(`${page}: ${target}`);
          continue;
        }
        if (anchor === undefined) continue;
        const headings = (await readFile(path.join(ROOT, resolved), 'utf8')).match(/^#+ .*$/gm) ?? [];
        if (!headings.some((h) => slug(h.replace(/^#+ /, '')) === anchor)) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
