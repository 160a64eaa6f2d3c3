/**
 * What the install's git remote offers: its release tags (`vX.Y.Z`), newest first, compared with the
 * version we run. Used by check_updates and self_update. Never throws for an unreachable remote: that
 * is an answer (`reachable: false`, with the reason).
 */
import { GitError, isGitCheckout, remoteTags, remoteUrl } from './git.ts';
import { compareVersions, releaseTags } from './semver.ts';

export interface UpdateCheck {
  current_version: string;
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
}

/** Credentials in a remote URL (https://user:token@host/...) never leave this module. */
export function redactRemote(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//[redacted]@');
}

export async function checkForUpdates(installDir: string, currentVersion: string, options: { includePrereleases?: boolean; timeoutMs?: number } = {}): Promise<UpdateCheck> {
  const base = { current_version: currentVersion, update_available: false, newer: [], tags: [] };
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
  const releases = releaseTags(listed, options.includePrereleases);
  const latest = releases[0];
  const newer = releases.filter((release) => compareVersions(release.version.raw, currentVersion) > 0).map((release) => release.tag);
  return {
    ...base,
    reachable: true,
    remote: redactRemote(remote),
    ...(latest ? { latest_tag: latest.tag, latest_version: latest.version.raw } : {}),
    update_available: newer.length > 0,
    newer,
    tags: releases.slice(0, 20).map((release) => release.tag),
  };
}
