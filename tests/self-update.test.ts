/**
 * check_updates and self_update against real local git repositories: a bare "remote" with release
 * tags and a clone of it as the install directory. Build, health check and restart are injected, so
 * every path (update, rollback, refusals, the container handshake) runs in a second.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkForUpdates } from '../lib/self/updates.ts';
import { selfUpdate, trialHealthCheck, type SelfUpdateDeps } from '../lib/self/self-update.ts';
import { compareVersions, parseSemVer, releaseTags } from '../lib/self/semver.ts';
import { readUpdateRequest, writeUpdateResult, requestFileName } from '../lib/self/update-protocol.ts';
import { setSelfUpdateOverrides } from '../lib/self/update-service.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'init.defaultBranch=main', '-c', 'advice.detachedHead=false', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Release {
  tag: string;
  /** package.json version at the tag (default: the tag without v). */
  version?: string;
}

/** A bare remote with these release tags (in order) and a clone checked out at `at`. */
function makeRepos(releases: Release[], at: string): { remote: string; install: string; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'pmcp-git-'));
  roots.push(root);
  const source = join(root, 'source');
  execFileSync('mkdir', ['-p', source]);
  git(source, 'init', '-q');
  writeFileSync(join(source, '.gitignore'), 'node_modules/\ndist/\n');
  for (const release of releases) {
    const version = release.version ?? release.tag.slice(1);
    writeFileSync(join(source, 'package.json'), JSON.stringify({ name: 'proxmox-mcp', version }, null, 2) + '\n');
    writeFileSync(join(source, 'CHANGELOG.md'), `# Changelog\n\n## [${version}] - 2026-01-01\n\n### Added\n- release ${version}\n`);
    git(source, 'add', '-A');
    git(source, 'commit', '-q', '-m', `release ${release.tag}`);
    git(source, 'tag', '-a', release.tag, '-m', release.tag);
  }
  const remote = join(root, 'remote.git');
  git(root, 'clone', '-q', '--bare', source, remote);
  const install = join(root, 'install');
  git(root, 'clone', '-q', remote, install);
  git(install, 'checkout', '-q', at);
  return { remote, install, root };
}

const headTag = (dir: string) => git(dir, 'describe', '--tags', '--exact-match', 'HEAD').trim();

function deps(install: string, overrides: Partial<SelfUpdateDeps> = {}): SelfUpdateDeps & { calls: string[] } {
  const calls: string[] = [];
  return {
    installDir: install,
    updateDir: join(install, '..', 'update'),
    currentVersion: '0.1.0',
    requestedBy: 'tester',
    inContainer: false,
    backup: async () => {
      calls.push('backup');
      return '/backups/proxmox-mcp-config-test.json';
    },
    build: async (dir) => {
      calls.push(`build ${JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version}`);
    },
    healthCheck: async () => ({ ok: true, detail: 'fine' }),
    restart: () => calls.push('restart'),
    calls,
    ...overrides,
  };
}

describe('semantic versions and release tags', () => {
  it('orders versions by semver precedence, pre-releases below their release', () => {
    expect(compareVersions('0.10.0', '0.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).toBeLessThan(0);
    expect(compareVersions('1.0.0-alpha', '1.0.0-alpha.1')).toBeLessThan(0);
    expect(compareVersions('v1.2.3', '1.2.3')).toBe(0);
    expect(parseSemVer('1.2')).toBeUndefined();
  });

  it('keeps only vX.Y.Z tags, newest first, pre-releases only when asked', () => {
    const tags = ['v0.1.0', 'v0.10.0', 'v0.2.0', 'v1.0.0-rc.1', 'latest', '0.3.0', 'v0.2.0-beta'].map((tag) => ({ tag }));
    expect(releaseTags(tags).map((release) => release.tag)).toEqual(['v0.10.0', 'v0.2.0', 'v0.1.0']);
    expect(releaseTags(tags, true)[0].tag).toBe('v1.0.0-rc.1');
  });
});

describe('check_updates against a git remote', () => {
  it('finds the newest release tag and says an update is available', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }, { tag: 'v0.3.0-rc.1' }], 'v0.1.0');
    const result = await checkForUpdates(install, '0.1.0');
    expect(result).toMatchObject({ reachable: true, latest_tag: 'v0.2.0', latest_version: '0.2.0', update_available: true, newer: ['v0.2.0'] });
    const withPre = await checkForUpdates(install, '0.1.0', { includePrereleases: true });
    expect(withPre.latest_tag).toBe('v0.3.0-rc.1');
    expect(await checkForUpdates(install, '0.2.0')).toMatchObject({ update_available: false, newer: [] });
  });

  it('answers "cannot reach the remote" instead of failing when offline or without a remote', async () => {
    const { install, remote } = makeRepos([{ tag: 'v0.1.0' }], 'v0.1.0');
    rmSync(remote, { recursive: true, force: true });
    const offline = await checkForUpdates(install, '0.1.0');
    expect(offline.reachable).toBe(false);
    expect(offline.reason).toMatch(/Cannot reach the remote/);
    git(install, 'remote', 'remove', 'origin');
    expect((await checkForUpdates(install, '0.1.0')).reason).toMatch(/no remote named origin/);
    const notGit = mkdtempSync(join(tmpdir(), 'pmcp-nogit-'));
    roots.push(notGit);
    expect((await checkForUpdates(notGit, '0.1.0')).reason).toMatch(/not a git checkout/);
  });

  it('never shows credentials from the remote URL', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }], 'v0.1.0');
    git(install, 'remote', 'set-url', 'origin', 'https://user:s3cr3t-token@127.0.0.1:1/repo.git');
    const result = await checkForUpdates(install, '0.1.0', { timeoutMs: 5000 });
    expect(result.reachable).toBe(false);
    expect(JSON.stringify(result)).not.toContain('s3cr3t-token');
  });
});

describe('self_update outside a container', () => {
  it('backs up, checks out the newest tag, builds, checks health and restarts', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const d = deps(install);
    const outcome = await selfUpdate(d, {});
    expect(outcome).toMatchObject({ status: 'ok', mode: 'local', previous_version: '0.1.0', target_tag: 'v0.2.0', version: '0.2.0', restarting: true });
    expect(d.calls).toEqual(['backup', 'build 0.2.0', 'restart']);
    expect(headTag(install)).toBe('v0.2.0');
  });

  it('rolls back to the previous tag when the new version fails its health check', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const d = deps(install, { healthCheck: async () => ({ ok: false, detail: 'database: down' }) });
    const outcome = await selfUpdate(d, {});
    expect(outcome.status).toBe('rolled_back');
    expect(outcome.message).toMatch(/health check failed: database: down/);
    expect(outcome.restarting).toBe(false);
    expect(d.calls).toEqual(['backup', 'build 0.2.0', 'build 0.1.0']);
    expect(headTag(install)).toBe('v0.1.0');
  });

  it('rolls back when the build fails, and reports failed when the rollback fails too', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const outcome = await selfUpdate(deps(install, { build: async (dir) => { if (readFileSync(join(dir, 'package.json'), 'utf8').includes('0.2.0')) throw new Error('tsc failed'); } }), {});
    expect(outcome.status).toBe('rolled_back');
    expect(headTag(install)).toBe('v0.1.0');
    const broken = await selfUpdate(deps(install, { build: async () => { throw new Error('npm is gone'); } }), {});
    expect(broken.status).toBe('failed');
    expect(broken.message).toMatch(/by hand/);
  });

  it('refuses a dirty working tree before changing anything', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    writeFileSync(join(install, 'local-change.txt'), 'hello');
    const d = deps(install);
    await expect(selfUpdate(d, {})).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/local changes \(local-change\.txt\)/) });
    expect(d.calls).toEqual([]);
    expect(headTag(install)).toBe('v0.1.0');
  });

  it('refuses an unknown tag', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const d = deps(install);
    await expect(selfUpdate(d, { targetTag: 'v9.9.9' })).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no release tag 'v9\.9\.9'.*v0\.2\.0/) });
    expect(d.calls).toEqual([]);
  });

  it('refuses a tag whose package.json has another version, and leaves the checkout alone', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0', version: '0.1.9' }], 'v0.1.0');
    const d = deps(install);
    await expect(selfUpdate(d, {})).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/package\.json at v0\.2\.0 says version 0\.1\.9/) });
    expect(d.calls).toEqual(['backup']);
    expect(headTag(install)).toBe('v0.1.0');
  });

  it('does nothing when already current, and refuses a downgrade unless asked', async () => {
    const { install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.2.0');
    const d = deps(install, { currentVersion: '0.2.0' });
    expect((await selfUpdate(d, {})).status).toBe('up_to_date');
    await expect(selfUpdate(d, { targetTag: 'v0.1.0' })).rejects.toMatchObject({ code: 'conflict' });
    expect((await selfUpdate(d, { targetTag: 'v0.1.0', allowDowngrade: true })).status).toBe('ok');
    expect(headTag(install)).toBe('v0.1.0');
  });
});

describe('self_update inside a container (host-side updater protocol)', () => {
  /** Plays the host updater: answers the request with `status`; `seen` holds the raw requests it took. */
  function fakeHost(updateDir: string, status: 'ok' | 'rolled_back' | 'failed', version: string, seen: unknown[] = []): () => void {
    const timer = setInterval(() => {
      const request = readUpdateRequest(updateDir);
      if (!request) return;
      seen.push(JSON.parse(readFileSync(join(updateDir, requestFileName), 'utf8')));
      writeUpdateResult(updateDir, { id: request.id, status, version, message: `${status} after ${request.target_tag}`, finished_at: new Date().toISOString() });
    }, 20);
    return () => clearInterval(timer);
  }

  it('writes request.json as the protocol says and reports what the host answered', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const updateDir = join(root, 'update');
    const requests: unknown[] = [];
    const stop = fakeHost(updateDir, 'ok', '0.2.0', requests);
    try {
      const d = deps(install, { inContainer: true, updateDir, waitMs: 5000, pollMs: 20 });
      const outcome = await selfUpdate(d, {});
      expect(outcome).toMatchObject({ status: 'ok', mode: 'container', version: '0.2.0', target_tag: 'v0.2.0' });
      expect(d.calls).toEqual(['backup']);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ action: 'update', target_tag: 'v0.2.0', previous_tag: 'v0.1.0', requested_by: 'tester' });
      expect(Object.keys(requests[0] as object).sort()).toEqual(['action', 'id', 'previous_tag', 'requested_at', 'requested_by', 'target_tag']);
      expect(headTag(install)).toBe('v0.1.0'); // the host does the checkout, not the container
    } finally {
      stop();
    }
  });

  it('reports a rollback by the host, and "pending" when the host does not answer in time', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const updateDir = join(root, 'update');
    const stop = fakeHost(updateDir, 'rolled_back', '0.1.0');
    try {
      expect(await selfUpdate(deps(install, { inContainer: true, updateDir, waitMs: 5000, pollMs: 20 }), {})).toMatchObject({ status: 'rolled_back', version: '0.1.0' });
    } finally {
      stop();
    }
    const pending = await selfUpdate(deps(install, { inContainer: true, updateDir, waitMs: 100, pollMs: 20 }), {});
    expect(pending.status).toBe('pending');
    expect(existsSync(join(updateDir, requestFileName))).toBe(true);
    // A second request while the first is unanswered is refused.
    await expect(selfUpdate(deps(install, { inContainer: true, updateDir, waitMs: 100 }), {})).rejects.toMatchObject({ code: 'conflict' });
  });

  it('understands a result in the host updater\'s older dialect (succeeded/rejected, from/to)', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const updateDir = join(root, 'update');
    const timer = setInterval(() => {
      const request = readUpdateRequest(updateDir);
      if (!request) return;
      rmSync(join(updateDir, requestFileName));
      writeFileSync(join(updateDir, 'result.json'), JSON.stringify({ id: request.id, status: 'succeeded', from: 'v0.1.0', to: 'v0.2.0', message: 'updated v0.1.0 -> v0.2.0', started_at: 'x', finished_at: 'y' }));
    }, 20);
    try {
      const outcome = await selfUpdate(deps(install, { inContainer: true, updateDir, waitMs: 5000, pollMs: 20 }), {});
      expect(outcome).toMatchObject({ status: 'ok', version: '0.2.0', message: 'Host updater: updated v0.1.0 -> v0.2.0' });
    } finally {
      clearInterval(timer);
    }
  });

  it('needs an explicit tag when the container has no git checkout', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'pmcp-image-'));
    roots.push(empty);
    await expect(selfUpdate(deps(empty, { inContainer: true, updateDir: join(empty, 'update'), waitMs: 50 }), {})).rejects.toMatchObject({ code: 'invalid_input' });
    const outcome = await selfUpdate(deps(empty, { inContainer: true, updateDir: join(empty, 'update'), waitMs: 50, pollMs: 10 }), { targetTag: 'v0.2.0' });
    expect(outcome.status).toBe('pending');
    expect(readUpdateRequest(join(empty, 'update'))?.target_tag).toBe('v0.2.0');
  });
});

describe('self_update and check_updates through both doors', () => {
  let ts: TestServer;
  let install: string;
  const calls: string[] = [];

  beforeAll(async () => {
    ({ install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0'));
    ts = await startTestServer({ env: { MCP_INSTALL_DIR: install } });
    setSelfUpdateOverrides({
      inContainer: false,
      build: async () => {
        calls.push('build');
      },
      healthCheck: async () => ({ ok: false, detail: 'injected failure' }),
      restart: () => calls.push('restart'),
    });
  });
  afterAll(async () => {
    setSelfUpdateOverrides({});
    await ts?.close();
  });
  afterEach(() => {
    calls.length = 0;
  });

  it('check_updates over REST and MCP', async () => {
    const rest = await callRest(ts.url, ts.adminToken, 'check_updates', {});
    expect(rest.status).toBe(200);
    expect(rest.body.data).toMatchObject({ reachable: true, latest_tag: 'v0.2.0' });
    const client = await connectClient(ts.mcpUrl, ts.adminToken);
    try {
      const result = await client.callTool({ name: 'check_updates', arguments: {} });
      expect((result.structuredContent as any).data.update_available).toBe(compareVersions(ts.server.info.version, '0.2.0') < 0);
    } finally {
      await client.close();
    }
  });

  it('is admin only and always confirmed, even in normal mode', async () => {
    const operator = await ts.createToken({ role: 'operator', mode: 'normal' });
    expect((await callRest(ts.url, operator, 'self_update', {})).status).toBe(403);
    await callRest(ts.url, ts.adminToken, 'toggle_mode', { mode: 'normal' });
    const first = await callRest(ts.url, ts.adminToken, 'self_update', {});
    expect(first.status).toBe(428);
    expect(first.body.error.details.plan.summary).toMatch(/Update proxmox-mcp/);
    expect(calls).toEqual([]);
  });

  it('rolls back through the REST door when the injected health check fails', async () => {
    const first = await callRest(ts.url, ts.adminToken, 'self_update', { target_tag: 'v0.2.0' });
    const id = first.body.error.details.confirmation_id as string;
    const done = await callRest(ts.url, ts.adminToken, 'self_update', { target_tag: 'v0.2.0', confirmation_id: id });
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({ status: 'rolled_back', mode: 'local', target_tag: 'v0.2.0' });
    expect(done.body.data.backup_file).toMatch(/proxmox-mcp-config-/);
    expect(existsSync(done.body.data.backup_file)).toBe(true);
    expect(calls).toEqual(['build', 'build']);
    expect(headTag(install)).toBe('v0.1.0');
  });

  it('refuses an unknown tag over MCP with a clear message', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken);
    try {
      const ask = await client.callTool({ name: 'self_update', arguments: { target_tag: 'v7.0.0' } });
      const id = (ask.structuredContent as any).error.details.confirmation_id;
      const result = await client.callTool({ name: 'self_update', arguments: { target_tag: 'v7.0.0', confirmation_id: id } });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as any).error.message).toMatch(/no release tag 'v7\.0\.0'/);
    } finally {
      await client.close();
    }
  });

  it('reports the last update with action status (no confirmation)', async () => {
    const status = await callRest(ts.url, ts.adminToken, 'self_update', { action: 'status' });
    expect(status.status).toBe(200);
    expect(status.body.data.message).toMatch(/No update has been requested/);
  });
});

describe('the default health check of a new build (trial start on a spare port)', () => {
  /** A stand-in for dist/server.js that answers /health the way the real server does. */
  function fakeBuild(behaviour: 'ok' | 'down' | 'crash'): string {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-build-'));
    roots.push(dir);
    execFileSync('mkdir', ['-p', join(dir, 'dist')]);
    writeFileSync(
      join(dir, 'dist', 'server.js'),
      behaviour === 'crash'
        ? "console.error('Configuration is not valid: MCP_PORT'); process.exit(1);\n"
        : `const http = require('node:http');
const token = process.env.MCP_ADMIN_TOKEN;
http.createServer((req, res) => {
  const full = req.headers.authorization === 'Bearer ' + token;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(full
    ? { status: '${behaviour}', version: '0.2.0', checks: [{ name: 'database', status: '${behaviour === 'ok' ? 'ok' : 'fail'}', detail: 'no such table' }] }
    : { status: 'ok' }));
}).listen(Number(process.env.MCP_PORT), process.env.MCP_HOST);
`,
    );
    return dir;
  }

  const check = trialHealthCheck({ copyDatabase: async (path) => writeFileSync(path, ''), timeoutMs: 10_000 });

  it('passes a build whose /health (with a token) is not down', async () => {
    expect(await check(fakeBuild('ok'))).toEqual({ ok: true, detail: 'version 0.2.0 reports ok' });
  });

  it('fails a build that reports down, naming the failing checks', async () => {
    const verdict = await check(fakeBuild('down'));
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toMatch(/reports down \(database: no such table\)/);
  });

  it('fails a build that exits at start, with its last words', async () => {
    const verdict = await check(fakeBuild('crash'));
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toMatch(/exited with code 1: Configuration is not valid/);
  });
});
