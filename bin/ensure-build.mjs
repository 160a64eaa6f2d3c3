#!/usr/bin/env node
/**
 * Makes sure dist/ was compiled from exactly the TypeScript sources in this checkout, and compiles it when
 * it was not. Every npm script that runs compiled code (start, token, sim, bench, docs) runs this first:
 *
 *   node bin/ensure-build.mjs && node dist/server.js
 *
 * Why this and not something else (issue 16):
 * - A full `tsc` on every `npm start` type-checks the whole project first (~10-20 s on 2 cores) although
 *   nothing changed. Type checking is the job of `npm test` / `npm run typecheck` and CI; running the code
 *   needs only the JavaScript, so this emits with `tsc --noCheck` (same output, ~3 s) and only when needed.
 * - Node 22.18+/24 can run .ts files itself, but only "erasable" syntax (our code uses parameter properties),
 *   and Node 20/22.x before 22.18 cannot at all; one build path for every supported Node is simpler.
 * - Not a `prepare` script: npm runs `prepare` on `npm ci --omit=dev` too, where TypeScript is absent, and
 *   a checkout that changes later (git pull, git checkout <tag>) would run an old dist/ without a word.
 * - Staleness is judged by content, not by modification times: a SHA-256 over the path and bytes of every
 *   file tsc compiles (the `include` of tsconfig.build.json: .ts and imported .json) and the two tsconfig
 *   files, recorded in dist/.source-hash after a build. Same hash: nothing to do (a few tens of ms). Any
 *   difference, a missing stamp or a missing dist/: a clean rebuild, announced on stderr.
 *   A stale build never runs silently: when it cannot be rebuilt (no TypeScript installed, a syntax error),
 *   this exits 1 with the reason and the scripts stop before running anything.
 * - The build goes to a scratch folder in node_modules/.cache and replaces dist/ only when it succeeded, so
 *   files of deleted sources never linger (tool discovery reads dist/functions/) and a failed build leaves
 *   no half-written dist/. A lock (node_modules/.cache/proxmox-mcp-build.lock, holding the builder's pid)
 *   keeps two starts from building at the same time; the second waits, then finds dist/ up to date.
 * - The TypeScript version is recorded too: a different one rebuilds; none installed (npm prune --omit=dev
 *   after a build) is fine as long as the sources are those dist/ was built from.
 *
 * `node bin/ensure-build.mjs --check` only says whether dist/ is up to date (exit 0) or not (exit 1).
 * Plain JavaScript on purpose: it has to run before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const stampFile = join(dist, '.source-hash');
const lockDir = join(root, 'node_modules', '.cache', 'proxmox-mcp-build.lock');
const tscPath = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const compiledExtensions = ['.ts', '.mts', '.cts', '.json'];
/** Folders inside the included ones that hold data, not code (bench/results: benchmark output). */
const skippedFolders = new Set(['node_modules', 'dist', 'results']);

const say = (line) => process.stderr.write(`[build] ${line}\n`);

function typescriptVersion() {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function includedRoots() {
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
  if (!Array.isArray(config.include) || config.include.some((entry) => typeof entry !== 'string' || /[*?]/.test(entry))) {
    throw new Error('tsconfig.build.json: "include" must list plain files and folders (no globs); bin/ensure-build.mjs walks them');
  }
  return config.include;
}

function collect(path, files) {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) return;
  if (stats.isDirectory()) {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || (entry.isDirectory() && skippedFolders.has(entry.name))) continue;
      collect(join(path, entry.name), files);
    }
  } else if (stats.isFile() && compiledExtensions.some((extension) => path.endsWith(extension)) && !path.endsWith('.d.ts')) {
    files.push(path);
  }
}

/** The hash dist/ must have been built from: every compiled file (path and bytes) and the configs. */
function sourceHash() {
  const files = [];
  for (const entry of includedRoots()) collect(join(root, entry), files);
  files.push(join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'));
  const hash = createHash('sha256');
  for (const file of [...new Set(files)].sort()) {
    const bytes = readFileSync(file);
    // Path and length before the bytes: no two different file sets give the same stream.
    hash.update(`${relative(root, file).split(sep).join('/')}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return { hash: hash.digest('hex'), files: files.length };
}

/** dist/ was built from these sources (and with the installed TypeScript, when one is installed). */
function upToDate(hash) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return false;
  }
  const typescript = typescriptVersion();
  return stamp.hash === hash && (typescript === null || stamp.typescript === typescript);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Take the build lock, waiting for another builder (up to 3 minutes); a lock left by a dead process is taken over. */
async function lock() {
  const deadline = Date.now() + 180_000;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(dirname(lockDir), { recursive: true });
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
    } catch {
      // the other builder is between mkdir and writing its pid, or just finished
    }
    const age = Date.now() - (statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if ((Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) || (!Number.isInteger(owner) && age > 10_000)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another build (pid ${owner}) has held ${relative(root, lockDir)} for 3 minutes; if no build runs, remove that folder`);
    if (!announced) say(`waiting for the build another process (pid ${owner}) is running`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function unlock() {
  rmSync(lockDir, { recursive: true, force: true });
}

function build(expected) {
  const scratch = join(root, 'node_modules', '.cache', `proxmox-mcp-build-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  const started = Date.now();
  say(`compiling TypeScript into dist/ (${existsSync(stampFile) ? 'the sources changed since the last build' : 'no build of these sources yet'}; type checking is npm test's job)`);
  const result = spawnSync(process.execPath, [tscPath, '-p', join(root, 'tsconfig.build.json'), '--noCheck', '--outDir', scratch], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(`tsc failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}); dist/ was left as it was and nothing runs from it`);
  }
  // Sources edited while tsc ran: what was compiled may be neither the old nor the new state. Refuse.
  const after = sourceHash().hash;
  if (after !== expected) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error('the sources changed while they were being compiled; run the command again');
  }
  writeFileSync(join(scratch, '.source-hash'), `${JSON.stringify({ hash: expected, typescript: typescriptVersion(), built_at: new Date().toISOString() })}\n`);
  rmSync(dist, { recursive: true, force: true });
  try {
    renameSync(scratch, dist);
  } catch (error) {
    if (error.code === 'EXDEV') {
      // node_modules on another filesystem (a symlink to a shared install): copy instead of moving.
      cpSync(scratch, dist, { recursive: true });
    } else if (!((error.code === 'ENOTEMPTY' || error.code === 'EEXIST') && upToDate(expected))) {
      throw error;
    } // else: another builder (one that took over a lock it judged stale) put the same build there first
    rmSync(scratch, { recursive: true, force: true });
  }
  say(`dist/ is up to date (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

async function main() {
  const usage =
    'usage: node bin/ensure-build.mjs [--check]\n\n' +
    'Compiles the TypeScript sources into dist/ when dist/ was not built from exactly these sources\n' +
    '(npm start, token, sim, bench and docs run it first). Nothing to do: exit 0 in a few tens of ms.\n\n' +
    'options:\n  --check      only tell: exit 0 when dist/ is up to date, 1 when not\n  -h, --help   show this help\n\n' +
    'example:\n  node bin/ensure-build.mjs && node dist/server.js\n';
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  const checkOnly = args.includes('--check');
  const unknown = args.filter((arg) => arg !== '--check');
  if (unknown.length) {
    process.stderr.write(`ensure-build: unknown option '${unknown[0]}'\n\n${usage}`);
    process.exit(2);
  }
  const { hash } = sourceHash();
  if (upToDate(hash)) return;
  if (checkOnly) {
    say('dist/ is missing or was built from other sources');
    process.exit(1);
  }
  if (!typescriptVersion()) {
    throw new Error(
      'dist/ is missing or was built from other sources, and TypeScript is not installed to rebuild it. ' +
        'Run `npm ci` (with the dev dependencies) in this folder, then start again.',
    );
  }
  await lock();
  try {
    // Another process may have built it while we waited for the lock.
    const current = sourceHash().hash;
    if (!upToDate(current)) build(current);
  } finally {
    unlock();
  }
}

main().catch((error) => {
  say(`cannot run: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
