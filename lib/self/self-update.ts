/**
 * self_update, as plain functions with every side effect injectable (tests drive each path):
 *
 *   refuse early  target tag unknown on the remote, working tree dirty, already on it, update running
 *   backup        backup_config of the current state, before anything changes
 *   container     ask the host-side updater for the release tags (check), then write request.json for it
 *                 (lib/self/update-protocol.ts) and wait for its result.json; never the Docker socket
 *   local         fetch the tag, verify package.json there says the tag's version, check it out,
 *                 build (`npm ci && npm run build`), start the new build on a spare port against a copy
 *                 of the database and ask its /health; healthy -> restart into it; not -> check the
 *                 previous commit out again, rebuild, and report `rolled_back`
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../abort.ts';
import { ToolError } from '../errors.ts';
import { checkout, dirtyFiles, fetchTag, fileAt, GitError, headCommit, isGitCheckout, remoteTags, tagAtHead } from './git.ts';
import { compareVersions, parseSemVer, releaseTags } from './semver.ts';
import { answerProblem, readUpdateRequest, RequestWaitingError, waitForUpdateResult, withdrawRequest, writeHostRequest, type UpdateResult } from './update-protocol.ts';
import { askHostForTags } from './updates.ts';

export type UpdateStatus = 'ok' | 'rolled_back' | 'failed' | 'pending' | 'up_to_date';

export interface SelfUpdateOutcome {
  status: UpdateStatus;
  mode: 'container' | 'local';
  previous_version: string;
  target_tag: string;
  /** The version running (or about to run) afterwards, when known. */
  version?: string;
  backup_file?: string;
  request_id?: string;
  restarting: boolean;
  message: string;
  steps: string[];
}

export interface HealthVerdict {
  ok: boolean;
  detail: string;
}

export interface SelfUpdateDeps {
  installDir: string;
  updateDir: string;
  currentVersion: string;
  requestedBy: string;
  inContainer: boolean;
  /** backup_config of the current state; returns the bundle file. */
  backup: () => Promise<string>;
  /** Local mode: build the checkout (default `npm ci && npm run build`). */
  build?: (dir: string, signal?: AbortSignal) => Promise<void>;
  /** Local mode: is the build in `dir` healthy? (default: trial start on a spare port). */
  healthCheck?: (dir: string, signal?: AbortSignal) => Promise<HealthVerdict>;
  /** Local mode: switch to the new build (default: exit for the supervisor, or re-exec). */
  restart?: () => void;
  /** Container mode: how long to wait for result.json. */
  waitMs?: number;
  /** Container mode: how long to wait for the host's list of release tags (tags.json; default 30 s). */
  checkWaitMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

export interface SelfUpdateRequest {
  targetTag?: string;
  includePrereleases?: boolean;
  /** Allow a target older than the running version. */
  allowDowngrade?: boolean;
}

function gitProblem(error: unknown, what: string): ToolError {
  if (error instanceof ToolError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ToolError(error instanceof GitError && error.kind === 'timeout' ? 'timeout' : 'unavailable', `${what}: ${message}`);
}

/** Pick and check the target tag against the remote's release tags. */
export async function resolveTarget(installDir: string, currentVersion: string, request: SelfUpdateRequest): Promise<{ tag: string; version: string }> {
  let listed: { tag: string; commit: string }[];
  try {
    listed = await remoteTags(installDir, 'origin');
  } catch (error) {
    throw gitProblem(error, 'Cannot list the release tags of the remote (origin)');
  }
  return chooseTarget(listed, request, 'The remote');
}

/** The requested tag among these, or the newest release; not_found when there is none. */
export function chooseTarget(listed: { tag: string }[], request: SelfUpdateRequest, where: string): { tag: string; version: string } {
  const releases = releaseTags(listed, request.includePrereleases || Boolean(request.targetTag && parseSemVer(request.targetTag)?.prerelease.length));
  if (request.targetTag) {
    const found = releases.find((release) => release.tag === request.targetTag);
    if (!found) {
      throw new ToolError('not_found', `${where} has no release tag '${request.targetTag}'. Release tags there: ${releases.slice(0, 8).map((r) => r.tag).join(', ') || 'none'}.`, {
        suggestions: ['Call check_updates to see the release tags.'],
      });
    }
    return { tag: found.tag, version: found.version.raw };
  }
  const newest = releases[0];
  if (!newest) throw new ToolError('not_found', `${where} has no release tags (vX.Y.Z) at all.`);
  return { tag: newest.tag, version: newest.version.raw };
}

function refuseIfNotNewer(target: { tag: string; version: string }, currentVersion: string, allowDowngrade: boolean | undefined): 'same' | undefined {
  const order = compareVersions(target.version, currentVersion);
  if (order === 0) return 'same';
  if (order < 0 && !allowDowngrade) {
    throw new ToolError('conflict', `${target.tag} is older than the running version ${currentVersion}; pass allow_downgrade: true to go back to it on purpose.`);
  }
  return undefined;
}

export async function selfUpdate(deps: SelfUpdateDeps, request: SelfUpdateRequest): Promise<SelfUpdateOutcome> {
  return deps.inContainer ? updateInContainer(deps, request) : updateLocally(deps, request);
}

async function updateInContainer(deps: SelfUpdateDeps, request: SelfUpdateRequest): Promise<SelfUpdateOutcome> {
  const steps: string[] = [];
  const previousTag = `v${deps.currentVersion}`;
  let target: { tag: string; version: string };
  if (isGitCheckout(deps.installDir)) {
    target = await resolveTarget(deps.installDir, deps.currentVersion, request);
    steps.push(`remote has ${target.tag}`);
  } else {
    // No .git in the image: the host's checkout knows the tags. A host that does not answer a check would
    // not answer an update either (or is older than this protocol), so nothing is requested then.
    deps.progress?.('asking the host-side updater for the release tags');
    const asked = await askHostForTags(deps.updateDir, deps.requestedBy, { timeoutMs: deps.checkWaitMs, pollMs: deps.pollMs, signal: deps.signal });
    if (!asked.ok) {
      throw new ToolError('unavailable', `Cannot update from inside the container: ${asked.reason}`, { suggestions: ['Nothing was changed. Fix the host-side updater, then try again; or update by hand on the host (docs/DEPLOYMENT.md, Upgrade).'] });
    }
    target = chooseTarget(asked.answer.tags.map((tag) => ({ tag })), request, 'The host\'s checkout');
    steps.push(`the host's checkout has ${target.tag}`);
  }
  if (refuseIfNotNewer(target, deps.currentVersion, request.allowDowngrade) === 'same') {
    return { status: 'up_to_date', mode: 'container', previous_version: deps.currentVersion, target_tag: target.tag, version: deps.currentVersion, restarting: false, message: `Already running ${deps.currentVersion}; nothing to do.`, steps };
  }
  const busy = (waiting: { target_tag: string; requested_at: string; requested_by: string }) =>
    new ToolError('conflict', `An update to ${waiting.target_tag} was requested at ${waiting.requested_at} by ${waiting.requested_by} and the host has not answered yet. Check with check_updates (last_update); if the host updater is not installed, run ./setup.sh on the host.`);
  const pending = readUpdateRequest(deps.updateDir);
  if (pending && Date.now() - Date.parse(pending.requested_at) < 3600_000) throw busy(pending);
  withdrawRequest(deps.updateDir, 'update'); // an hour unanswered (or not a valid request): the host never took it
  deps.progress?.('backing up the configuration');
  const backupFile = await deps.backup();
  steps.push(`backup ${backupFile}`);
  const id = crypto.randomUUID();
  try {
    writeHostRequest(deps.updateDir, { id, action: 'update', target_tag: target.tag, previous_tag: previousTag, requested_at: new Date().toISOString(), requested_by: deps.requestedBy });
  } catch (error) {
    if (error instanceof RequestWaitingError && error.waiting?.action === 'update') throw busy(error.waiting);
    throw error;
  }
  steps.push(`request ${id} written to ${deps.updateDir}`);
  deps.progress?.('waiting for the host-side updater');
  const result = await waitForUpdateResult(deps.updateDir, id, { timeoutMs: deps.waitMs ?? 600_000, pollMs: deps.pollMs, signal: deps.signal });
  if (!result) {
    const problem = answerProblem(deps.updateDir, 'update');
    if (problem) {
      return {
        status: 'failed',
        mode: 'container',
        previous_version: deps.currentVersion,
        target_tag: target.tag,
        backup_file: backupFile,
        request_id: id,
        restarting: false,
        message: `${problem}: the host-side updater is not the one this version expects. Run ./setup.sh on the host to install it, then check what is running (health_check).`,
        steps,
      };
    }
    return {
      status: 'pending',
      mode: 'container',
      previous_version: deps.currentVersion,
      target_tag: target.tag,
      backup_file: backupFile,
      request_id: id,
      restarting: false,
      message: `Update to ${target.tag} requested; the host-side updater has not answered yet (the container is usually replaced meanwhile). Call check_updates in a minute (last_update). If nothing happens, check \`systemctl status proxmox-mcp-update.path\` on the host.`,
      steps,
    };
  }
  steps.push(`host answered ${result.status}`);
  return { ...fromHostResult(result, deps.currentVersion, target.tag), backup_file: backupFile, steps };
}

export function fromHostResult(result: UpdateResult, previousVersion: string, targetTag: string): Omit<SelfUpdateOutcome, 'steps'> {
  return {
    status: result.status,
    mode: 'container',
    previous_version: previousVersion,
    target_tag: targetTag,
    version: result.version,
    request_id: result.id,
    restarting: result.status === 'ok',
    message: `Host updater: ${result.message}`,
  };
}

async function updateLocally(deps: SelfUpdateDeps, request: SelfUpdateRequest): Promise<SelfUpdateOutcome> {
  const dir = deps.installDir;
  const steps: string[] = [];
  if (!isGitCheckout(dir)) {
    throw new ToolError('conflict', `${dir} is not a git checkout, so it cannot be updated by tag. Clone the repository there (or set MCP_INSTALL_DIR to the checkout).`);
  }
  const target = await resolveTarget(dir, deps.currentVersion, request);
  steps.push(`remote has ${target.tag}`);
  if (refuseIfNotNewer(target, deps.currentVersion, request.allowDowngrade) === 'same') {
    return { status: 'up_to_date', mode: 'local', previous_version: deps.currentVersion, target_tag: target.tag, version: deps.currentVersion, restarting: false, message: `Already running ${deps.currentVersion}; nothing to do.`, steps };
  }
  const dirty = await dirtyFiles(dir).catch((error: unknown) => {
    throw gitProblem(error, `Cannot read the state of the checkout in ${dir}`);
  });
  if (dirty.length > 0) {
    throw new ToolError('conflict', `The checkout in ${dir} has local changes (${dirty.slice(0, 5).map((line) => line.slice(3)).join(', ')}${dirty.length > 5 ? ', …' : ''}); refusing to update over them. Commit or remove them first.`);
  }
  const previousCommit = await headCommit(dir);
  if (!previousCommit) throw new ToolError('unavailable', `Cannot read the current commit of ${dir}.`);
  const previousTag = (await tagAtHead(dir)) ?? previousCommit.slice(0, 12);

  deps.progress?.('backing up the configuration');
  const backupFile = await deps.backup();
  steps.push(`backup ${backupFile}`);

  try {
    await fetchTag(dir, target.tag);
  } catch (error) {
    throw gitProblem(error, `Cannot fetch ${target.tag}`);
  }
  let tagVersion: string | undefined;
  try {
    tagVersion = (JSON.parse(await fileAt(dir, `refs/tags/${target.tag}`, 'package.json')) as { version?: string }).version;
  } catch {
    tagVersion = undefined;
  }
  if (tagVersion !== target.version) {
    throw new ToolError('conflict', `package.json at ${target.tag} says version ${tagVersion ?? '(none)'}, not ${target.version}: the release is inconsistent, refusing to install it. Nothing was changed.`);
  }
  steps.push(`${target.tag} verified (package.json ${tagVersion})`);

  const build = deps.build ?? npmBuild;
  const healthCheck = deps.healthCheck;
  const base = { mode: 'local' as const, previous_version: deps.currentVersion, target_tag: target.tag, backup_file: backupFile };

  const rollBack = async (why: string): Promise<SelfUpdateOutcome> => {
    steps.push(`rolling back to ${previousTag}: ${why}`);
    try {
      await checkout(dir, previousCommit);
      await build(dir, deps.signal);
      steps.push(`back on ${previousTag}`);
      return { ...base, status: 'rolled_back', version: deps.currentVersion, restarting: false, message: `${target.tag} did not pass (${why}); rolled back to ${previousTag}, which keeps running.`, steps };
    } catch (error) {
      return {
        ...base,
        status: 'failed',
        restarting: false,
        message: `${target.tag} did not pass (${why}) and the rollback to ${previousTag} failed too (${(error as Error).message}). The running process is unchanged; fix the checkout in ${dir} by hand (git checkout ${previousCommit}; npm ci; npm run build) before restarting.`,
        steps,
      };
    }
  };

  try {
    await checkout(dir, `refs/tags/${target.tag}`);
  } catch (error) {
    throw gitProblem(error, `Cannot check out ${target.tag}`);
  }
  steps.push(`checked out ${target.tag}`);
  deps.progress?.(`building ${target.tag}`);
  try {
    await build(dir, deps.signal);
    steps.push('built');
  } catch (error) {
    return rollBack(`build failed: ${(error as Error).message}`);
  }
  if (healthCheck) {
    deps.progress?.(`checking the health of ${target.tag}`);
    let verdict: HealthVerdict;
    try {
      verdict = await healthCheck(dir, deps.signal);
    } catch (error) {
      verdict = { ok: false, detail: (error as Error).message };
    }
    if (!verdict.ok) return rollBack(`health check failed: ${verdict.detail}`);
    steps.push(`health check passed: ${verdict.detail}`);
  }
  (deps.restart ?? restartProcess)();
  steps.push('restarting into the new version');
  return { ...base, status: 'ok', version: target.version, restarting: true, message: `Updated ${deps.currentVersion} -> ${target.version}; the server restarts into it now.`, steps };
}

function run(command: string, args: string[], cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, signal, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim().split('\n').slice(-3).join(' ') || error.message}`));
    });
  });
}

/** The default build: exactly what a fresh install does. */
export async function npmBuild(dir: string, signal?: AbortSignal): Promise<void> {
  await run('npm', ['ci', '--no-audit', '--no-fund'], dir, 15 * 60_000, signal);
  await run('npm', ['run', 'build', '--silent'], dir, 10 * 60_000, signal);
}


/**
 * The default health check: start the new build (`node dist/server.js` in `dir`) on a spare loopback
 * port, with its own data directory holding a copy of the database (`copyDatabase` writes it), and ask
 * its /health with a one-off admin token. Healthy = it answers and its status is not `down`.
 */
export function trialHealthCheck(options: { copyDatabase: (path: string) => Promise<void>; env?: Record<string, string | undefined>; timeoutMs?: number }) {
  return async (dir: string, signal?: AbortSignal): Promise<HealthVerdict> => {
    const work = mkdtempSync(join(tmpdir(), 'pmcp-trial-'));
    const port = await freePort();
    const token = 'pmcp_' + [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const databasePath = join(work, 'proxmox-mcp.db');
    await options.copyDatabase(databasePath);
    const child = spawn(process.execPath, ['dist/server.js'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...(options.env ?? process.env),
        MCP_PORT: String(port),
        MCP_HOST: '127.0.0.1',
        MCP_DATA_DIR: work,
        DATABASE_URL: `file:${databasePath}`,
        DATABASE_AUTH_TOKEN: '',
        MCP_ADMIN_TOKEN: token,
        MCP_BACKUP_DIR: join(work, 'backups'),
        MCP_UPDATE_DIR: join(work, 'update'),
        MCP_INSTALL_DIR: dir,
      },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    let exited: number | null | undefined;
    child.on('exit', (code) => {
      exited = code;
    });
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    try {
      while (Date.now() < deadline && !signal?.aborted) {
        if (exited !== undefined) return { ok: false, detail: `the new version exited with code ${exited}: ${stderr.trim().split('\n').slice(-2).join(' ')}` };
        try {
          const response = await fetch(`http://127.0.0.1:${port}/health`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) });
          const report = (await response.json()) as { status?: string; version?: string; checks?: { name: string; status: string; detail: string }[] };
          if (report.status && report.status !== 'down') return { ok: true, detail: `version ${report.version} reports ${report.status}` };
          if (report.status === 'down') {
            const failing = (report.checks ?? []).filter((check) => check.status === 'fail').map((check) => `${check.name}: ${check.detail}`);
            return { ok: false, detail: `the new version reports down (${failing.join('; ')})` };
          }
        } catch {
          // not listening yet
        }
        await sleep(500);
      }
      return { ok: false, detail: 'the new version did not answer /health in time' };
    } finally {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      setTimeout(() => rmSync(work, { recursive: true, force: true }), 6000).unref();
    }
  };
}

/**
 * Switch this process to the new build. Under a supervisor (systemd sets INVOCATION_ID; Docker restarts
 * the container; MCP_SUPERVISED=1 for anything else) it exits with 75 so the supervisor starts the new
 * build; otherwise it starts its own successor, detached, a moment after it has gone, and exits.
 */
export function restartProcess(delayMs = 1500): void {
  const supervised = Boolean(process.env.INVOCATION_ID || process.env.MCP_SUPERVISED === '1' || process.env.pm_id !== undefined);
  setTimeout(() => {
    if (!supervised) {
      const child = spawn('/bin/sh', ['-c', 'sleep 2; exec "$0" "$@"', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
        cwd: process.cwd(),
        env: process.env,
        detached: true,
        stdio: 'inherit',
      });
      child.unref();
    }
    process.exit(supervised ? 75 : 0);
  }, delayMs).unref?.();
}
