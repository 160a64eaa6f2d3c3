/**
 * What the install's git remote offers: its release tags (`vX.Y.Z`), newest first, compared with the
 * version we run. Used by check_updates and self_update. Outside a container: `git ls-remote` in the
 * install's checkout. Inside one (no .git in the image): a check request to the host-side updater, which
 * fetches the tags in the host's checkout (update-protocol.ts). Never throws for an unreachable remote or
 * a silent host: that is an answer (`reachable: false`, with the reason).
 */
import { GitError, isGitCheckout, remoteTags, remoteUrl } from './git.ts';
import { compareVersions, releaseTags } from './semver.ts';
import { answerProblem, readCheckRequest, RequestWaitingError, waitForCheckResult, withdrawRequest, writeHostRequest, type CheckResult } from './update-protocol.ts';

export interface UpdateCheck {
  current_version: string;
  /** Who listed the tags: git ls-remote here, or the host-side updater (in a container). */
  source: 'git' | 'host';
  reachable: boolean;
  /** Why the remote could not be asked, when it could not. */
  reason?: string;
  remote?: string;
  latest_tag?: string;
  latest_version?: string;
  update_available: boolean;
  /** Release tags newer than the current version, newest first. */
  newer: string[];
  /** Every release tag found, newest first (at most 20). */
  tags: string[];
  /** source "host": what the host's checkout is at (its release tag, or null; its commit). */
  host_checkout?: { tag: string | null; commit: string | null };
}

/** Credentials in a remote URL (https://user:token@host/...) never leave this module. */
export function redactRemote(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//[redacted]@');
}

export async function checkForUpdates(installDir: string, currentVersion: string, options: { includePrereleases?: boolean; timeoutMs?: number } = {}): Promise<UpdateCheck> {
  const base = { current_version: currentVersion, source: 'git' as const, update_available: false, newer: [], tags: [] };
  if (!isGitCheckout(installDir)) {
    return {
      ...base,
      reachable: false,
      reason: `${installDir} is not a git checkout, so there is no remote to ask. Inside the container, ask on the host (git -C <install dir> ls-remote --tags origin) or set MCP_INSTALL_DIR to a checkout.`,
    };
  }
  const remote = await remoteUrl(installDir);
  if (!remote) return { ...base, reachable: false, reason: `The checkout in ${installDir} has no remote named origin.` };
  let listed: { tag: string; commit: string }[];
  try {
    listed = await remoteTags(installDir, 'origin', { timeoutMs: options.timeoutMs });
  } catch (error) {
    const why = error instanceof GitError ? error.message : String(error);
    return { ...base, reachable: false, remote: redactRemote(remote), reason: `Cannot reach the remote ${redactRemote(remote)}: ${redactRemote(why)}` };
  }
  return { ...base, reachable: true, remote: redactRemote(remote), ...compare(listed, currentVersion, options.includePrereleases) };
}

function compare(listed: { tag: string }[], currentVersion: string, includePrereleases?: boolean): Pick<UpdateCheck, 'latest_tag' | 'latest_version' | 'update_available' | 'newer' | 'tags'> {
  const releases = releaseTags(listed, includePrereleases);
  const latest = releases[0];
  const newer = releases.filter((release) => compareVersions(release.version.raw, currentVersion) > 0).map((release) => release.tag);
  return {
    ...(latest ? { latest_tag: latest.tag, latest_version: latest.version.raw } : {}),
    update_available: newer.length > 0,
    newer,
    tags: releases.slice(0, 20).map((release) => release.tag),
  };
}

export const hostSilentReason =
  'the host-side updater did not answer: is proxmox-mcp-update.path enabled? On the host: systemctl status proxmox-mcp-update.path (./setup.sh installs and enables it).';

export interface HostAskOptions {
  /** How long to wait for the answer (default 30 s). */
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * Ask the host-side updater for the release tags (a check request, answered in tags.json). A check that
 * is already waiting and recent is joined instead of replaced. `ok: false` with a reason a person can act
 * on when the host does not answer in time, answers in another format, or its fetch failed.
 */
export async function askHostForTags(updateDir: string, requestedBy: string, options: HostAskOptions = {}): Promise<{ ok: true; answer: CheckResult } | { ok: false; reason: string; answer?: CheckResult }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const waiting = readCheckRequest(updateDir);
  let id: string;
  if (waiting && Date.now() - Date.parse(waiting.requested_at) < timeoutMs) {
    id = waiting.id;
  } else {
    withdrawRequest(updateDir, 'check'); // stale (nobody took it), or not a valid request: the host would refuse it
    id = crypto.randomUUID();
    try {
      writeHostRequest(updateDir, { id, action: 'check', requested_at: new Date().toISOString(), requested_by: requestedBy });
    } catch (error) {
      if (!(error instanceof RequestWaitingError) || !error.waiting) throw error;
      id = error.waiting.id; // another caller asked at the same moment: wait for that answer
    }
  }
  const answer = await waitForCheckResult(updateDir, id, { timeoutMs, pollMs: options.pollMs, signal: options.signal });
  if (!answer) {
    withdrawRequest(updateDir, 'check', id);
    const problem = answerProblem(updateDir, 'check');
    return { ok: false, reason: problem ? `${problem}: the host-side updater is not the one this version expects; run ./setup.sh on the host to install it.` : hostSilentReason };
  }
  if (answer.status !== 'ok') return { ok: false, reason: `The host-side updater could not list the release tags: ${answer.message}`, answer };
  return { ok: true, answer };
}

/** check_updates in a container: the host's checkout fetches the tags and reports them (update-protocol.ts). */
export async function checkForUpdatesViaHost(updateDir: string, currentVersion: string, options: HostAskOptions & { includePrereleases?: boolean; requestedBy: string }): Promise<UpdateCheck> {
  const base = { current_version: currentVersion, source: 'host' as const, update_available: false, newer: [], tags: [] };
  const asked = await askHostForTags(updateDir, options.requestedBy, options);
  const checkout = (answer: CheckResult) => ({ host_checkout: { tag: answer.checked_out_tag || null, commit: answer.checked_out_commit || null } });
  if (!asked.ok) return { ...base, reachable: false, reason: asked.reason, ...(asked.answer ? checkout(asked.answer) : {}) };
  return {
    ...base,
    reachable: true,
    remote: 'origin of the install checkout on the host (through the host-side updater)',
    ...compare(asked.answer.tags.map((tag) => ({ tag })), currentVersion, options.includePrereleases),
    ...checkout(asked.answer),
  };
}
