/**
 * The README's quick start, followed as written on a fresh copy of the checkout: every file git would hand
 * out (tracked files with the mode in the index, so a missing run bit fails here as it would after
 * `git clone`; plus new files not yet committed), no dist/, no data/. Each command line of the quick
 * start runs through bash in that copy, with two deliberate differences, both said here:
 *   - `npm ci` is not run again: node_modules is a link to this checkout's (installed from the same
 *     lockfile), so the test needs no network.
 *   - the ports: 3001 and 8006 may be taken on a machine running tests, so the test replaces them by free
 *     ones in the line, or passes MCP_PORT (the README's own way to change the port) to a bare `npm start`.
 * A quick-start line this test does not know how to check fails it: change the README, teach the test.
 * `claude mcp add` is not run (no Claude Code here); its URL and header are used with the official MCP client.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../lib/free-port.ts';
import { projectPath, projectRoot } from '../lib/paths.ts';
import { connectClient } from './helpers/server.ts';

const readme = readFileSync(projectPath('README.md'), 'utf8');
const hasGit = existsSync(projectPath('.git'));

/** The text of one `## ` section of the README. */
function readmeSection(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}`);
  if (start === -1) throw new Error(`README has no section '## ${title}'`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

/** The lines of the ```sh blocks of a text, one array per block. */
function shellBlocks(text: string): string[][] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1].split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#')));
}

/** Inline code spans that are commands a person would type (npm, ./script, curl, node, claude, VAR=... cmd). */
function inlineCommands(text: string): string[] {
  const withoutBlocks = text.replace(/```[\s\S]*?```/g, '');
  const spans = [...withoutBlocks.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]);
  return [...new Set(spans.filter((span) => /^(npm |\.\/|curl |node |claude |[A-Z][A-Z0-9_]*=\S* )/.test(span)))];
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

let copy: string;
let port: number;
let simPort: number;
const children = new Set<ChildProcess>();
let firstServer: { stop: () => Promise<void> } | undefined;

function bash(line: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { cwd: copy, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => kill(child, 'SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment a person's shell has: no PROXMOX_ or MCP_ settings from the test run, no npm_ variables. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(MCP_|PROXMOX_|DATABASE_|SSH_|npm_|VITEST|NODE_OPTIONS$|PVE_SIM_)/.test(name)) continue;
    env[name] = value;
  }
  return env;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Start a long-running line (its whole process group) and wait until `url` answers; resolves with how long it took. */
async function startLine(line: string, url: string, env: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ child: ChildProcess; ms: number; output: () => string; stop: () => Promise<void> }> {
  const started = performance.now();
  const child = spawn('bash', ['-c', line], { cwd: copy, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const stop = () =>
    new Promise<void>((resolve) => {
      children.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('close', () => resolve());
      kill(child, 'SIGTERM');
      setTimeout(() => kill(child, 'SIGKILL'), 5000).unref();
    });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`'${line}' exited (${child.exitCode}):\n${output}`);
    try {
      await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
      return { child, ms: performance.now() - started, output: () => output, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`'${line}' did not answer at ${url} within 120 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** What `git clone` of this working tree would give (after committing it): the files and their run bits. */
function freshCopy(): string {
  const target = mkdtempSync(join(tmpdir(), 'pmcp-first-hour-readme-'));
  const git = (args: string[]) => {
    const result = spawnSyncText('git', args);
    return result.split('\0').filter(Boolean);
  };
  const entries: Array<{ mode: string; path: string }> = git(['ls-files', '-s', '-z']).map((entry) => {
    const [meta, path] = entry.split('\t');
    return { mode: meta.split(' ')[0], path };
  });
  for (const path of git(['ls-files', '--others', '--exclude-standard', '-z'])) entries.push({ mode: 'worktree', path });
  for (const { mode, path } of entries) {
    const source = join(projectRoot, path);
    const stats = lstatSync(source, { throwIfNoEntry: false });
    if (!stats) continue; // deleted in the working tree
    mkdirSync(dirname(join(target, path)), { recursive: true });
    if (stats.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), join(target, path));
      continue;
    }
    if (!stats.isFile()) continue;
    copyFileSync(source, join(target, path));
    chmodSync(join(target, path), mode === '100755' ? 0o755 : mode === 'worktree' ? stats.mode & 0o777 : 0o644);
  }
  symlinkSync(projectPath('node_modules'), join(target, 'node_modules'), 'dir');
  return target;
}

function spawnSyncText(command: string, args: string[]): string {
  return execFileSync(command, args, { cwd: projectRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

const ports = (line: string) => line.replaceAll('127.0.0.1:3001', `127.0.0.1:${port}`).replaceAll('--port 8006', `--port ${simPort}`).replaceAll('127.0.0.1:8006', `127.0.0.1:${simPort}`);

function json(ran: Ran, line: string): Record<string, any> {
  expect(ran.code, `${line}\n${ran.stderr}`).toBe(0);
  try {
    return JSON.parse(ran.stdout) as Record<string, any>;
  } catch {
    throw new Error(`'${line}' did not print JSON:\n${ran.stdout}\n${ran.stderr}`);
  }
}

beforeAll(async () => {
  if (!hasGit) return;
  copy = freshCopy();
  port = await freePort();
  simPort = await freePort();
});

afterAll(async () => {
  for (const child of children) kill(child, 'SIGKILL');
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe.skipIf(!hasGit)('README quick start, followed as written on a fresh copy', () => {
  const quickStart = readmeSection(readme, 'Quick start');
  const blocks = shellBlocks(quickStart);
  let claudeToken = '';

  it('has the blocks this test follows: start; health, token, claude, curl; the simulator; the tests', () => {
    expect(blocks.length).toBe(4);
    expect(blocks[0]).toEqual(['npm ci && npm start']);
    expect(blocks[1].length).toBe(4);
    expect(blocks[3]).toEqual(['npm ci && npm test']);
  });

  it('the run bits are what the README needs: ./setup.sh and every other ./script it names run as written', () => {
    const scripts = [...readme.matchAll(/(?:^|[\s`(])\.\/([\w./-]+\.sh|\.ci\/run)\b/gm)].map((match) => match[1]);
    expect(scripts).toContain('setup.sh');
    for (const script of new Set(scripts)) {
      expect(lstatSync(join(copy, script)).mode & 0o111, `${script} is not executable in a fresh clone`).not.toBe(0);
    }
  });

  it('block 1: `npm start` on a fresh copy builds once and serves /health', async () => {
    const [line] = blocks[0];
    expect(line.startsWith('npm ci && ')).toBe(true);
    const server = await startLine(line.slice('npm ci && '.length), `http://127.0.0.1:${port}/health`, { MCP_PORT: String(port) });
    process.stderr.write(`[first-hour] fresh copy: npm start to /health in ${(server.ms / 1000).toFixed(1)} s (build included)\n`);
    expect(server.output()).toContain('[build] compiling TypeScript');
    // The log says where to go next: the MCP URL, the OpenAPI document, the health check.
    expect(server.output()).toContain(`"openapi":"http://127.0.0.1:${port}/v1/openapi.json"`);
    expect(existsSync(join(copy, 'data', 'admin-token'))).toBe(true);
    expect(server.output()).not.toContain(readFileSync(join(copy, 'data', 'admin-token'), 'utf8').trim());
    firstServer = server;
  }, 180_000);

  it('block 2, line by line: health, a token for Claude Code, the claude line (through the MCP client), curl on the REST door', async () => {
    for (const written of blocks[1]) {
      const line = ports(written);
      if (/^curl -s http:\/\/127\.0\.0\.1:\d+\/health$/.test(line)) {
        const health = json(await bash(line), written);
        expect(health).toMatchObject({ status: 'ok', name: 'proxmox-mcp', simulated: true });
      } else if (written.startsWith('npm run token -- create ')) {
        const ran = await bash(line);
        expect(ran.code, ran.stderr).toBe(0);
        claudeToken = ran.stdout.trim().split('\n').at(-1) ?? '';
        expect(claudeToken).toMatch(/^pmcp_\S{20,}$/);
      } else if (written.startsWith('claude mcp add ')) {
        const match = /--transport http proxmox (http:\/\/\S+\/mcp) --header "Authorization: Bearer ([A-Z_]+)"$/.exec(line);
        expect(match, written).not.toBeNull();
        expect(claudeToken, 'the token line comes before the claude line').not.toBe('');
        const client = await connectClient(match![1], claudeToken);
        try {
          const tools = await client.listTools();
          expect(tools.tools.map((tool) => tool.name)).toContain('list_vms');
          const result = await client.callTool({ name: 'list_vms', arguments: {} });
          expect(result.isError ?? false).toBe(false);
        } finally {
          await client.close();
        }
      } else if (/^curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/tools\/\w+ /.test(line)) {
        const answer = json(await bash(line), written);
        expect(answer.success).toBe(true);
        expect(answer.data.guests.length).toBeGreaterThan(0);
      } else {
        throw new Error(`The quick start has a line this test does not check: ${written}`);
      }
    }
  }, 120_000);

  it('the links and commands in the text: OpenAPI, --help of every command, token list, full health, another port', async () => {
    const openapiLink = /<(http:\/\/127\.0\.0\.1:3001\/v1\/openapi\.json)>/.exec(quickStart);
    expect(openapiLink).not.toBeNull();
    const openapi = (await (await fetch(ports(openapiLink![1]))).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths)).toContain('/v1/tools/list_vms');

    const commands = inlineCommands(quickStart);
    expect(commands).toEqual(expect.arrayContaining(['npm run token -- --help', 'npm run approve -- --help', 'npm run sim -- --help', 'npm run bench -- --help', './setup.sh --help', 'MCP_PORT=3002 npm start']));
    const blockLines = new Set(blocks.flat().flatMap((line) => [line, ...line.split(' && ')]));
    for (const written of commands) {
      const line = ports(written);
      if (blockLines.has(written)) {
        // Named in the text, run above as a line of a block.
      } else if (written.endsWith(' --help')) {
        const ran = await bash(line);
        expect(ran.code, `${written}\n${ran.stderr}`).toBe(0);
        if (written.startsWith('npm run ')) {
          expect(ran.stdout, written).toMatch(/usage: npm run \w+ --/);
          expect(ran.stdout, written).toMatch(/examples?:\n {2}npm run /);
        } else {
          expect(ran.stdout.length, written).toBeGreaterThan(100);
        }
      } else if (/^(MCP_[A-Z_]+=\S+ )+npm start$/.test(written)) {
        // Its own port: MCP_PORT=3002 npm start is run with a free port in place of 3002 (the first server still runs).
        const other = await freePort();
        const rewritten = written.replace(/MCP_PORT=\d+/, `MCP_PORT=${other}`);
        const server = await startLine(rewritten, `http://127.0.0.1:${other}/health`, rewritten.includes('MCP_PORT=') ? {} : { MCP_PORT: String(other) });
        await server.stop();
      } else if (written === 'npm run token -- list' || /^npm run token -- create NAME --role admin$/.test(written)) {
        const ran = await bash(line);
        expect(ran.code, `${written}\n${ran.stderr}`).toBe(0);
        if (written.endsWith('list')) expect(ran.stdout).toContain('claude-code');
      } else if (/^curl -s http:\/\/127\.0\.0\.1:\d+\/health -H "Authorization: Bearer \$\(cat data\/admin-token\)"$/.test(line)) {
        const report = json(await bash(line), written);
        expect(report.status).toBeDefined();
        expect(JSON.stringify(report)).toMatch(/proxmox|database/i);
      } else if (written === 'node --version') {
        expect((await bash(line)).stdout).toMatch(/^v\d+\./);
      } else if (written.startsWith('claude ') || written === 'npm ci') {
        // Not run: no Claude Code here; npm ci is the linked node_modules (see the top of this file).
      } else {
        throw new Error(`The quick start names a command this test does not check: ${written}`);
      }
    }
  }, 180_000);

  it('every option the README (any section) passes to an npm run command is one that command\'s --help lists', async () => {
    const lines = [...shellBlocks(readme).flat(), ...inlineCommands(readme)].map((line) => line.replace(/\s+#\s.*$/, ''));
    const flags = new Map<string, Set<string>>();
    for (const line of lines) {
      const match = /^npm run ([\w:-]+) -- (.*)$/.exec(line);
      if (!match) continue;
      const set = flags.get(match[1]) ?? new Set<string>();
      for (const flag of match[2].matchAll(/(?:^|\s)(--[a-z][\w-]*)/g)) set.add(flag[1]);
      flags.set(match[1], set);
    }
    expect([...flags.keys()]).toEqual(expect.arrayContaining(['token', 'sim']));
    for (const [script, used] of flags) {
      const help = await bash(`npm run --silent ${script} -- --help`);
      expect(help.code, `npm run ${script} -- --help\n${help.stderr}`).toBe(0);
      for (const flag of used) expect(help.stdout, `npm run ${script}: the README uses ${flag}, --help does not list it`).toMatch(new RegExp(`${flag}\\b`));
    }
  }, 120_000);

  it('a wrong option or value gets the reason and the usage with exit code 2, never a stack trace', async () => {
    const cases: Array<[string, string]> = [
      ...['token', 'approve', 'sim', 'bench', 'docs'].map((script): [string, string] => [`npm run --silent ${script} -- --bogus`, "unknown option '--bogus'"]),
      ['npm run --silent sim -- --port abc', '--port must be a whole number'],
      ['npm run --silent sim -- --port', "option '--port' needs a value"],
      ['npm run --silent bench -- nosuch', 'no scenario nosuch'],
    ];
    for (const [line, reason] of cases) {
      const ran = await bash(line);
      expect(ran.code, `${line}\n${ran.stderr}`).toBe(2);
      expect(ran.stderr, line).toContain(reason);
      expect(ran.stderr, line).toMatch(/usage: npm run \w+ --/);
      expect(ran.stderr, line).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(ran.stdout, line).toBe('');
    }
  }, 120_000);

  it('block 3: the separate simulator with its token, and the server pointed at it', async () => {
    await firstServer?.stop();
    const [simLine, serverLine] = blocks[2].map(ports);
    expect(blocks[2].length).toBe(2);
    const token = /^PROXMOX_URL=\S+ PROXMOX_TOKEN_ID='([^']+)' PROXMOX_TOKEN_SECRET=(\S+) npm start$/.exec(serverLine);
    expect(token, serverLine).not.toBeNull();
    // The token the README gives for the simulator is one it accepts (a wrong one would wait 3 s for a 401).
    const authorization = `PVEAPIToken=${token![1]}=${token![2]}`;
    expect(quickStart).toContain(`\`${token![1]}\` with the secret \`${token![2]}\``);
    const sim = await startLine(simLine, `http://127.0.0.1:${simPort}/api2/json/version`, {}, { authorization });
    try {
      const version = await fetch(`http://127.0.0.1:${simPort}/api2/json/version`, { headers: { authorization } });
      expect(version.status).toBe(200);
      expect(sim.output()).toContain(token![1]);
      const server = await startLine(serverLine, `http://127.0.0.1:${port}/health`, { MCP_PORT: String(port) });
      try {
        const listLine = ports(blocks[1].find((line) => line.includes('/v1/tools/'))!);
        const answer = json(await bash(listLine), listLine);
        expect(answer.success, JSON.stringify(answer)).toBe(true);
        expect(server.output()).toContain(`127.0.0.1:${simPort}`);
      } finally {
        await server.stop();
      }
    } finally {
      await sim.stop();
    }
  }, 180_000);
});
