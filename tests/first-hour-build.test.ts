/**
 * bin/ensure-build.mjs, the step every `npm start` / `npm run token|sim|bench|docs` takes first: it compiles
 * only when dist/ was not built from exactly these sources, and a stale dist/ never runs silently.
 * Run on a small project of its own (a copy of the script, two tsconfig files, a few sources, the real
 * TypeScript linked in), so the real dist/ is never touched.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectPath } from '../lib/paths.ts';

let dir: string;

function run(args: string[] = [], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(dir, 'bin', 'ensure-build.mjs'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const write = (path: string, text: string) => {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const stamp = () => JSON.parse(readFileSync(join(dir, 'dist', '.source-hash'), 'utf8')) as { hash: string; typescript: string };
const linkTypescript = () => symlinkSync(projectPath('node_modules', 'typescript'), join(dir, 'node_modules', 'typescript'), 'dir');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pmcp-first-hour-build-'));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(projectPath('bin', 'ensure-build.mjs'), join(dir, 'bin', 'ensure-build.mjs'));
  mkdirSync(join(dir, 'node_modules'));
  linkTypescript();
  write('package.json', '{"type":"module"}');
  write(
    'tsconfig.json',
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, rewriteRelativeImportExtensions: true, resolveJsonModule: true, outDir: 'dist', rootDir: '.', types: [] },
    }),
  );
  write('tsconfig.build.json', JSON.stringify({ extends: './tsconfig.json', include: ['main.ts', 'lib'] }));
  // A parameter property: the syntax Node's own type stripping refuses, which is why we compile.
  write('lib/greeter.ts', "export class Greeter {\n  constructor(readonly name: string) {}\n  hello(): string { return `hello ${this.name}`; }\n}\n");
  write('lib/extra.ts', 'export const extra = 1;\n');
  write('lib/data.json', '{"answer": 42}\n');
  write('main.ts', "import { Greeter } from './lib/greeter.ts';\nimport data from './lib/data.json' with { type: 'json' };\nconsole.log(new Greeter('world').hello(), data.answer);\n");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensure-build: compile only when needed, never run a stale dist/', () => {
  it('builds a fresh checkout once, announcing it on stderr, and records the source hash', async () => {
    expect((await run(['--check'])).code).toBe(1);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('compiling TypeScript into dist/');
    expect(first.stdout).toBe('');
    expect(existsSync(join(dir, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'lib', 'data.json'))).toBe(true);
    expect(stamp().hash).toMatch(/^[0-9a-f]{64}$/);
    expect(execFileSync(process.execPath, [join(dir, 'dist', 'main.js')], { encoding: 'utf8' })).toBe('hello world 42\n');
    expect(stamp().typescript).toBe(JSON.parse(readFileSync(projectPath('node_modules', 'typescript', 'package.json'), 'utf8')).version);
    // The scratch folder and the lock are gone.
    expect(existsSync(join(dir, 'node_modules', '.cache', 'proxmox-mcp-build.lock'))).toBe(false);
  }, 90_000);

  it('does nothing (and says nothing) when the sources are those dist/ was built from, even after touch', async () => {
    const before = stamp();
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'lib', 'greeter.ts'), future, future);
    const again = await run();
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    expect(stamp()).toEqual(before);
    expect((await run(['--check'])).code).toBe(0);
  });

  it('rebuilds when a source changes, including an imported .json and the tsconfig', async () => {
    write('lib/greeter.ts', "export class Greeter {\n  constructor(readonly name: string) {}\n  hello(): string { return `hi ${this.name}`; }\n}\n");
    expect((await run(['--check'])).code).toBe(1);
    const rebuilt = await run();
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stderr).toContain('the sources changed since the last build');
    expect(readFileSync(join(dir, 'dist', 'lib', 'greeter.js'), 'utf8')).toContain('hi ');

    write('lib/data.json', '{"answer": 43}\n');
    expect((await run(['--check'])).code).toBe(1);
    expect((await run()).code).toBe(0);
    expect(readFileSync(join(dir, 'dist', 'lib', 'data.json'), 'utf8')).toContain('43');

    const config = readFileSync(join(dir, 'tsconfig.json'), 'utf8');
    write('tsconfig.json', config.replace('"ES2022"', '"ES2023"'));
    expect((await run(['--check'])).code).toBe(1);
    expect((await run()).code).toBe(0);
  }, 120_000);

  it('rebuilds clean: the output of a deleted source does not linger in dist/', async () => {
    expect(existsSync(join(dir, 'dist', 'lib', 'extra.js'))).toBe(true);
    unlinkSync(join(dir, 'lib', 'extra.ts'));
    expect((await run()).code).toBe(0);
    expect(existsSync(join(dir, 'dist', 'lib', 'extra.js'))).toBe(false);
  }, 60_000);

  it('a source that does not parse: exit 1, dist/ left as it was, and still refused on the next try', async () => {
    const good = stamp();
    const goodMain = readFileSync(join(dir, 'dist', 'main.js'), 'utf8');
    write('main.ts', 'export const = ;\n');
    const broken = await run();
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('tsc failed');
    expect(stamp()).toEqual(good);
    expect(readFileSync(join(dir, 'dist', 'main.js'), 'utf8')).toBe(goodMain);
    expect((await run()).code).toBe(1);
    expect((await run(['--check'])).code).toBe(1);
    write('main.ts', "import { Greeter } from './lib/greeter.ts';\nconsole.log(new Greeter('again').hello());\n");
    expect((await run()).code).toBe(0);
  }, 120_000);

  it('without TypeScript installed: an up-to-date dist/ runs, a stale one is refused with what to do', async () => {
    unlinkSync(join(dir, 'node_modules', 'typescript'));
    try {
      const fine = await run();
      expect(fine.code).toBe(0);
      expect(fine.stderr).toBe('');
      write('lib/new.ts', 'export const added = true;\n');
      const refused = await run();
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('TypeScript is not installed');
      expect(refused.stderr).toContain('npm ci');
    } finally {
      linkTypescript();
    }
  }, 60_000);

  it('takes over a lock left by a process that died instead of waiting for it', async () => {
    mkdirSync(join(dir, 'node_modules', '.cache', 'proxmox-mcp-build.lock'), { recursive: true });
    // Above the largest pid Linux hands out (4194304), so never a live process.
    writeFileSync(join(dir, 'node_modules', '.cache', 'proxmox-mcp-build.lock', 'pid'), '4194305');
    write('lib/new.ts', 'export const added = 2;\n');
    const result = await run([], 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('waiting');
    expect(readFileSync(join(dir, 'dist', 'lib', 'new.js'), 'utf8')).toContain('2');
    expect(existsSync(join(dir, 'node_modules', '.cache', 'proxmox-mcp-build.lock'))).toBe(false);
  }, 60_000);

  it('two starts at once: one compiles, the other waits for it and finds dist/ up to date', async () => {
    write('lib/new.ts', 'export const added = 3;\n');
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect([a, b].filter((result) => result.stderr.includes('compiling TypeScript')).length).toBe(1);
    expect(readFileSync(join(dir, 'dist', 'lib', 'new.js'), 'utf8')).toContain('3');
  }, 120_000);

  it('answers --help, and refuses an unknown option with the usage and exit 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: node bin/ensure-build.mjs');
    const wrong = await run(['--chek']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown option '--chek'");
    expect(wrong.stderr).toContain('usage:');
  });
});

describe('package.json: every script that runs compiled code checks the build first', () => {
  it('start, token, sim, bench, docs (and any later one that runs dist/) begin with node bin/ensure-build.mjs', () => {
    const scripts = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const running = Object.entries(scripts).filter(([, command]) => /\bdist\//.test(command));
    expect(running.map(([name]) => name)).toEqual(expect.arrayContaining(['start', 'token', 'sim', 'bench', 'docs']));
    for (const [name, command] of running) {
      expect(command, `script '${name}'`).toMatch(/^node bin\/ensure-build\.mjs && node (--\S+ )*dist\/\S+\.js$/);
    }
  });
});
