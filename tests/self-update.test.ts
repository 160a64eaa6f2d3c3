/**
 * check_updates and self_update against real local git repositories: a bare "remote" with release
 * tags and a clone of it as the install directory. Build, health check and restart are injected, so
 * every path (update, rollback, refusals, the container handshake) runs in a second.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkForUpdates, checkForUpdatesViaHost, hostSilentReason } from '../lib/self/updates.ts';
import { selfUpdate, trialHealthCheck, type SelfUpdateDeps } from '../lib/self/self-update.ts';
import { compareVersions, parseSemVer, releaseTags } from '../lib/self/semver.ts';
import {
  answerDir,
  checkRequestFileName,
  readCheckRequest,
  readUpdateRequest,
  releaseTagPattern,
  RequestWaitingError,
  requestFileName,
  updateRequestSchema,
  updateResultSchema,
  waitForUpdateResult,
  writeCheckResult,
  writeHostRequest,
  writeUpdateResult,
} from '../lib/self/update-protocol.ts';
import { setSelfUpdateOverrides } from '../lib/self/update-service.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { approveCli } from './helpers/approval.ts';

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

/** The release-signing key of these tests (SSH, as setup.sh pins it on a host) and its allowed-signers file. */
const signing = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'pmcp-signing-'));
  roots.push(dir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'release', '-f', join(dir, 'key')]);
  const signers = join(dir, 'release-signers');
  writeFileSync(signers, `release@proxmox-mcp ${readFileSync(join(dir, 'key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`, { mode: 0o644 });
  return { key: join(dir, 'key'), signers };
})();

/** A bare remote with these release tags (in order; signed with the tests' release key) and a clone checked out at `at`. */
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
    git(source, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${signing.key}`, 'tag', '-s', release.tag, '-m', release.tag);
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
  /**
   * Plays the host updater: answers checks with `tags` and updates with `status`; `seen` holds the raw
   * requests it took. With `silent` it answers nothing.
   */
  function fakeHost(updateDir: string, status: 'ok' | 'rolled_back' | 'failed', version: string, options: { seen?: unknown[]; tags?: string[] } = {}): () => void {
    const timer = setInterval(() => {
      const check = readCheckRequest(updateDir);
      if (check) {
        options.seen?.push(JSON.parse(readFileSync(join(updateDir, checkRequestFileName), 'utf8')));
        writeCheckResult(updateDir, { id: check.id, status: 'ok', tags: options.tags ?? ['v0.2.0', 'v0.1.0'], checked_out_tag: 'v0.1.0', checked_out_commit: 'a'.repeat(40), message: 'fetched', finished_at: new Date().toISOString() });
      }
      const request = readUpdateRequest(updateDir);
      if (!request) return;
      options.seen?.push(JSON.parse(readFileSync(join(updateDir, requestFileName), 'utf8')));
      writeUpdateResult(updateDir, { id: request.id, status, version, message: `${status} after ${request.target_tag}`, finished_at: new Date().toISOString() });
    }, 20);
    return () => clearInterval(timer);
  }

  it('writes request.json as the protocol says and reports what the host answered', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const updateDir = join(root, 'update');
    const requests: unknown[] = [];
    const stop = fakeHost(updateDir, 'ok', '0.2.0', { seen: requests });
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

  it('reports an answer in another format (an older host updater) as failed, with what to do, at once', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }], 'v0.1.0');
    const updateDir = join(root, 'update');
    const timer = setInterval(() => {
      const request = readUpdateRequest(updateDir);
      if (!request) return;
      rmSync(join(updateDir, requestFileName));
      mkdirSync(answerDir(updateDir), { recursive: true });
      writeFileSync(join(answerDir(updateDir), 'result.json'), JSON.stringify({ id: request.id, status: 'succeeded', from: 'v0.1.0', to: 'v0.2.0', message: 'updated', started_at: 'x', finished_at: 'y' }));
    }, 20);
    try {
      const started = Date.now();
      const outcome = await selfUpdate(deps(install, { inContainer: true, updateDir, waitMs: 10_000, pollMs: 20 }), {});
      expect(outcome).toMatchObject({ status: 'failed', request_id: expect.any(String) });
      expect(outcome.message).toMatch(/does not follow the update protocol.*Run \.\/setup\.sh on the host/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      clearInterval(timer);
    }
  });

  it('without a git checkout, asks the host for the tags: the newest by default, a given one, a downgrade only when allowed', async () => {
    const image = mkdtempSync(join(tmpdir(), 'pmcp-image-'));
    roots.push(image);
    const updateDir = join(image, 'update');
    const seen: unknown[] = [];
    const stop = fakeHost(updateDir, 'ok', '0.3.0', { seen, tags: ['v0.1.0', 'v0.3.0', 'v0.2.0', 'v0.4.0-rc.1'] });
    try {
      const d = (extra: Partial<SelfUpdateDeps> = {}) => deps(image, { inContainer: true, updateDir, currentVersion: '0.2.0', waitMs: 5000, pollMs: 20, ...extra });
      expect(await selfUpdate(d(), {})).toMatchObject({ status: 'ok', target_tag: 'v0.3.0' });
      expect(seen[0]).toMatchObject({ action: 'check', requested_by: 'tester' });
      expect(Object.keys(seen[0] as object).sort()).toEqual(['action', 'id', 'requested_at', 'requested_by']);
      expect(seen[1]).toMatchObject({ action: 'update', target_tag: 'v0.3.0', previous_tag: 'v0.2.0' });
      expect(await selfUpdate(d(), { targetTag: 'v0.4.0-rc.1' })).toMatchObject({ target_tag: 'v0.4.0-rc.1' });
      await expect(selfUpdate(d(), { targetTag: 'v0.1.0' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/allow_downgrade/) });
      expect(await selfUpdate(d(), { targetTag: 'v0.1.0', allowDowngrade: true })).toMatchObject({ status: 'ok', target_tag: 'v0.1.0' });
      expect(readUpdateRequest(updateDir)).toBeUndefined();
      await expect(selfUpdate(d(), { targetTag: 'v9.9.9' })).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/host's checkout has no release tag 'v9\.9\.9'/) });
    } finally {
      stop();
    }
  });

  it('without a git checkout and a silent host: refuses before the backup, and leaves no request behind', async () => {
    const image = mkdtempSync(join(tmpdir(), 'pmcp-image-'));
    roots.push(image);
    const updateDir = join(image, 'update');
    const d = deps(image, { inContainer: true, updateDir, checkWaitMs: 100, pollMs: 10 });
    await expect(selfUpdate(d, { targetTag: 'v0.2.0' })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/did not answer: is proxmox-mcp-update\.path enabled\?/) });
    expect(d.calls).toEqual([]);
    expect(existsSync(join(updateDir, checkRequestFileName))).toBe(false);
    expect(existsSync(join(updateDir, requestFileName))).toBe(false);
  });
});

describe('check_updates inside a container (through the host-side updater)', () => {
  it('compares with the tags the host reports, and says what the host has checked out', async () => {
    const updateDir = join(mkdtempSync(join(tmpdir(), 'pmcp-upd-')), 'update');
    roots.push(join(updateDir, '..'));
    const timer = setInterval(() => {
      const check = readCheckRequest(updateDir);
      if (check) writeCheckResult(updateDir, { id: check.id, status: 'ok', tags: ['v0.1.0', 'v0.2.0', 'v0.3.0-rc.1'], checked_out_tag: 'v0.1.0', checked_out_commit: 'b'.repeat(40), message: 'fetched', finished_at: new Date().toISOString() });
    }, 20);
    try {
      const result = await checkForUpdatesViaHost(updateDir, '0.1.0', { requestedBy: 'tester', timeoutMs: 5000, pollMs: 20 });
      expect(result).toMatchObject({ source: 'host', reachable: true, latest_tag: 'v0.2.0', update_available: true, newer: ['v0.2.0'], host_checkout: { tag: 'v0.1.0', commit: 'b'.repeat(40) } });
      writeFileSync(join(answerDir(updateDir), 'result.json'), '{"keep":"me"}');
      expect((await checkForUpdatesViaHost(updateDir, '0.1.0', { requestedBy: 'tester', includePrereleases: true, timeoutMs: 5000, pollMs: 20 })).latest_tag).toBe('v0.3.0-rc.1');
      expect(readFileSync(join(answerDir(updateDir), 'result.json'), 'utf8')).toBe('{"keep":"me"}'); // a check never touches an update's answer
    } finally {
      clearInterval(timer);
    }
  });

  it('answers "the host-side updater did not answer" in bounded time, and a failed fetch with the host\'s reason', async () => {
    const updateDir = join(mkdtempSync(join(tmpdir(), 'pmcp-upd-')), 'update');
    roots.push(join(updateDir, '..'));
    const silent = await checkForUpdatesViaHost(updateDir, '0.1.0', { requestedBy: 'tester', timeoutMs: 150, pollMs: 20 });
    expect(silent).toMatchObject({ source: 'host', reachable: false, update_available: false, tags: [] });
    expect(silent.reason).toBe(hostSilentReason);
    expect(existsSync(join(updateDir, checkRequestFileName))).toBe(false);
    const timer = setInterval(() => {
      const check = readCheckRequest(updateDir);
      if (check) writeCheckResult(updateDir, { id: check.id, status: 'failed', tags: ['v0.1.0'], checked_out_tag: 'v0.1.0', checked_out_commit: '', message: 'git fetch --tags failed: no route to host', finished_at: new Date().toISOString() });
    }, 20);
    try {
      const offline = await checkForUpdatesViaHost(updateDir, '0.1.0', { requestedBy: 'tester', timeoutMs: 5000, pollMs: 20 });
      expect(offline).toMatchObject({ reachable: false, reason: expect.stringMatching(/no route to host/), host_checkout: { tag: 'v0.1.0', commit: null } });
    } finally {
      clearInterval(timer);
    }
  });
});

describe('the update protocol (lib/self/update-protocol.ts)', () => {
  const request = { id: 'r1', action: 'update' as const, target_tag: 'v0.2.0', previous_tag: 'v0.1.0', requested_at: '2026-01-01T00:00:00.000Z', requested_by: 'admin' };

  it('has exactly the documented keys and forms, on both sides', () => {
    expect(updateRequestSchema.safeParse(request).success).toBe(true);
    expect(updateRequestSchema.safeParse({ ...request, version: 'v0.2.0' }).success).toBe(false);
    expect(updateRequestSchema.safeParse({ ...request, target_tag: 'main' }).success).toBe(false);
    expect(updateRequestSchema.safeParse({ ...request, target_tag: 'v0.2.0\n' }).success).toBe(false);
    expect(updateResultSchema.safeParse({ id: 'r1', status: 'succeeded', version: '0.2.0', message: '', finished_at: '' }).success).toBe(false);
    expect(updateResultSchema.safeParse({ id: 'r1', status: 'ok', version: '0.2.0', message: '', finished_at: '', from: 'v0.1.0' }).success).toBe(false);
    // host-update.sh checks tags with the same expression.
    const script = readFileSync(join(import.meta.dirname, '..', 'deploy', 'host-update.sh'), 'utf8');
    expect(/^RELEASE_TAG_ERE='([^']+)'$/m.exec(script)?.[1]).toBe(releaseTagPattern.source);
  });

  it('never replaces a waiting request of the same kind; a check and an update wait side by side', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-proto-'));
    roots.push(dir);
    writeHostRequest(dir, request);
    expect(() => writeHostRequest(dir, { ...request, id: 'r2' })).toThrow(RequestWaitingError);
    expect(readUpdateRequest(dir)?.id).toBe('r1');
    writeHostRequest(dir, { id: 'c1', action: 'check', requested_at: request.requested_at, requested_by: 'admin' });
    expect(readCheckRequest(dir)?.id).toBe('c1');
    expect(readdirSync(dir).sort()).toEqual([checkRequestFileName, requestFileName]);
  });
});

describe('deploy/host-update.sh answers what lib/self/update-protocol.ts reads (end to end)', () => {
  it('lists the tags, updates to a given older tag, and refuses a request outside the protocol', async () => {
    const { install, root } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v0.2.0' }, { tag: 'v0.3.0' }], 'v0.3.0');
    const updateDir = join(root, 'update');
    const running = join(root, 'running');
    writeFileSync(running, '0.3.0');
    const health = createServer((_req, res) => res.end(JSON.stringify({ status: 'ok', version: readFileSync(running, 'utf8').trim() })));
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    const port = (health.address() as { port: number }).port;
    writeFileSync(join(root, 'env'), `MCP_HOST=127.0.0.1\nMCP_PORT=${port}\n`);
    const compose = join(root, 'fake-compose');
    writeFileSync(compose, `#!/bin/sh\nsed -n 's/.*"version": "\\([^"]*\\)".*/\\1/p' package.json >'${running}'\n`, { mode: 0o755 });
    // Plays the systemd path unit: runs the updater whenever a request file appears.
    // The answers in updateDir/answers (where the container sees the host's read-only answer dir), the
    // updater's state beside it; requests belong to this process's user (the "container" here).
    const state = join(root, 'updater-state');
    const env = {
      ...process.env,
      PROXMOX_MCP_INSTALL_DIR: install,
      PROXMOX_MCP_UPDATE_DIR: updateDir,
      PROXMOX_MCP_ANSWER_DIR: answerDir(updateDir),
      PROXMOX_MCP_STATE_DIR: state,
      PROXMOX_MCP_SIGNERS: signing.signers,
      PROXMOX_MCP_CONTAINER_UID: String(process.getuid?.() ?? 0),
      PROXMOX_MCP_ENV_FILE: join(root, 'env'),
      PROXMOX_MCP_HEALTH_TIMEOUT: '10',
      PROXMOX_MCP_COMPOSE: compose,
      TMPDIR: root,
    };
    mkdirSync(updateDir, { recursive: true, mode: 0o755 });
    let busy = false;
    const pathUnit = setInterval(() => {
      if (busy || !(existsSync(join(updateDir, requestFileName)) || existsSync(join(updateDir, checkRequestFileName)))) return;
      busy = true;
      execFile('bash', [join(import.meta.dirname, '..', 'deploy', 'host-update.sh')], { env }, () => {
        busy = false;
      });
    }, 30);
    try {
      const image = mkdtempSync(join(tmpdir(), 'pmcp-image-'));
      roots.push(image);
      const check = await checkForUpdatesViaHost(updateDir, '0.3.0', { requestedBy: 'tester', timeoutMs: 15_000, pollMs: 30 });
      expect(check).toMatchObject({ reachable: true, tags: ['v0.3.0', 'v0.2.0', 'v0.1.0'], update_available: false, host_checkout: { tag: 'v0.3.0', commit: git(install, 'rev-parse', 'HEAD').trim() } });

      const d = deps(image, { inContainer: true, updateDir, currentVersion: '0.3.0', waitMs: 30_000, checkWaitMs: 15_000, pollMs: 30 });
      // A downgrade needs the admin on the host as well: allow_downgrade in the request alone is refused.
      const refusedDowngrade = await selfUpdate(d, { targetTag: 'v0.2.0', allowDowngrade: true });
      expect(refusedDowngrade).toMatchObject({ status: 'failed', message: expect.stringMatching(/a downgrade needs the admin on the host/) });
      expect(headTag(install)).toBe('v0.3.0');
      writeFileSync(join(state, 'allow-downgrade'), 'v0.2.0\n', { mode: 0o644 });
      const outcome = await selfUpdate(d, { targetTag: 'v0.2.0', allowDowngrade: true });
      expect(outcome).toMatchObject({ status: 'ok', mode: 'container', target_tag: 'v0.2.0', version: '0.2.0', message: 'Host updater: updated v0.3.0 -> v0.2.0' });
      expect(headTag(install)).toBe('v0.2.0');
      expect(readFileSync(running, 'utf8').trim()).toBe('0.2.0');

      const refusedId = 'not-the-protocol';
      mkdirSync(updateDir, { recursive: true });
      writeFileSync(join(updateDir, requestFileName), JSON.stringify({ id: refusedId, version: 'v0.1.0' }));
      const refused = await waitForUpdateResult(updateDir, refusedId, { timeoutMs: 15_000, pollMs: 30 });
      expect(refused).toMatchObject({ status: 'failed', version: '0.2.0', message: expect.stringMatching(/refused: unknown field\(s\) version/) });
      expect(headTag(install)).toBe('v0.2.0');
    } finally {
      clearInterval(pathUnit);
      await new Promise((resolve) => health.close(resolve));
    }
  }, 60_000);
});

// The newer release is far above any real version, so these tests hold whatever package.json says.
describe('self_update and check_updates through both doors', () => {
  let ts: TestServer;
  let install: string;
  const calls: string[] = [];

  beforeAll(async () => {
    ({ install } = makeRepos([{ tag: 'v0.1.0' }, { tag: 'v99.0.0' }], 'v0.1.0'));
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
    expect(rest.body.data).toMatchObject({ reachable: true, latest_tag: 'v99.0.0' });
    const client = await connectClient(ts.mcpUrl, ts.adminToken);
    try {
      const result = await client.callTool({ name: 'check_updates', arguments: {} });
      expect((result.structuredContent as any).data.update_available).toBe(compareVersions(ts.server.info.version, '99.0.0') < 0);
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
    const first = await callRest(ts.url, ts.adminToken, 'self_update', { target_tag: 'v99.0.0' });
    // self_update needs proof (issue 13): the host CLI's yes, then the approval id runs it.
    const id = first.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', id);
    const done = await callRest(ts.url, ts.adminToken, 'self_update', { target_tag: 'v99.0.0', confirmation_id: id });
    expect(done.status).toBe(200);
    expect(done.body.data).toMatchObject({ status: 'rolled_back', mode: 'local', target_tag: 'v99.0.0' });
    expect(done.body.data.backup_file).toMatch(/proxmox-mcp-config-/);
    expect(existsSync(done.body.data.backup_file)).toBe(true);
    expect(calls).toEqual(['build', 'build']);
    expect(headTag(install)).toBe('v0.1.0');
  });

  it('refuses an unknown tag over MCP with a clear message', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken);
    try {
      const ask = await client.callTool({ name: 'self_update', arguments: { target_tag: 'v7.0.0' } });
      const id = (ask.structuredContent as any).error.details.approval_id;
      await approveCli(ts.server.store, 'yes', id);
      const result = await client.callTool({ name: 'self_update', arguments: { target_tag: 'v7.0.0', confirmation_id: id } });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as any).error.message).toMatch(/no release tag 'v7\.0\.0'/);
    } finally {
      await client.close();
    }
  });

  it('check_updates reports the last update (a read); self_update no longer takes action status', async () => {
    const status = await callRest(ts.url, ts.adminToken, 'check_updates', {});
    expect(status.status).toBe(200);
    expect(status.body.data.last_update.message).toMatch(/No update has been requested/);
    const old = await callRest(ts.url, ts.adminToken, 'self_update', { action: 'status' });
    expect(old.status).toBe(400);
    expect(JSON.stringify(old.body)).toMatch(/check_updates/);
  });
});

describe('check_updates and self_update in a container, through the doors (MCP_IN_CONTAINER)', () => {
  let ts: TestServer;
  let updateDir: string;
  beforeAll(async () => {
    const image = mkdtempSync(join(tmpdir(), 'pmcp-image-'));
    roots.push(image);
    updateDir = join(image, 'update');
    ts = await startTestServer({ env: { MCP_INSTALL_DIR: image, MCP_UPDATE_DIR: updateDir, MCP_IN_CONTAINER: 'true' } });
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('asks the host-side updater, and says when it does not answer', async () => {
    const silent = await callRest(ts.url, ts.adminToken, 'check_updates', { wait_seconds: 1 });
    expect(silent.status).toBe(200);
    expect(silent.body.data).toMatchObject({ source: 'host', reachable: false, reason: hostSilentReason });
    const timer = setInterval(() => {
      const check = readCheckRequest(updateDir);
      if (check) writeCheckResult(updateDir, { id: check.id, status: 'ok', tags: ['v0.1.0', 'v99.0.0'], checked_out_tag: 'v0.1.0', checked_out_commit: 'c'.repeat(40), message: 'fetched', finished_at: new Date().toISOString() });
    }, 20);
    try {
      const answered = await callRest(ts.url, ts.adminToken, 'check_updates', {});
      expect(answered.body.data).toMatchObject({ source: 'host', reachable: true, latest_tag: 'v99.0.0', update_available: true, host_checkout: { tag: 'v0.1.0' } });
    } finally {
      clearInterval(timer);
    }
  });

  it('check_updates says the last update and the mode from the config', async () => {
    const status = await callRest(ts.url, ts.adminToken, 'check_updates', { wait_seconds: 1 });
    expect(status.body.data.last_update).toMatchObject({ mode: 'container', status: null });
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
