/**
 * Has anyone taken rights away from this server? The first reading of its effective permissions
 * (GET /access/permissions for its own token) is kept in the settings store; every later reading (at
 * start and in health_check) is compared with it, and what is missing is reported loudly: a warning in
 * the log and a `proxmox_permissions` health check that makes the status degraded.
 *
 * A privilege counts as lost when a path Proxmox lists no longer has it, or when a path no longer listed
 * had it and no listed path above it has it now (Proxmox always lists /, /access, /nodes, /storage,
 * /vms..., so a propagate=0 on / shows up as losses below it). A new token id starts a new baseline.
 */
import type { Logger } from '../log.ts';
import type { PveClient } from '../pve/types.ts';
import type { Store } from '../store/store.ts';

export const permissionsBaselineKey = 'proxmox.permissions.baseline';

export type PermissionMap = Record<string, Record<string, number | boolean | string>>;

export interface PermissionsBaseline {
  tokenId: string;
  takenAt: string;
  /** path -> privileges held there. */
  privileges: Record<string, string[]>;
}

export interface PermissionsVerdict {
  /** True when this reading became the baseline. */
  first: boolean;
  baseline: PermissionsBaseline;
  /** `Privilege on /path`, sorted. */
  lost: string[];
  paths: number;
  privileges: number;
}

function held(map: PermissionMap): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [path, privileges] of Object.entries(map ?? {})) {
    if (!privileges || typeof privileges !== 'object') continue;
    out[path] = Object.entries(privileges)
      .filter(([, value]) => value === 1 || value === true || value === '1')
      .map(([name]) => name)
      .sort();
  }
  return out;
}

function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 0; i--) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

/** What the baseline had and the current reading lacks. */
export function lostPrivileges(baseline: Record<string, string[]>, current: Record<string, string[]>): string[] {
  const lost: string[] = [];
  for (const [path, privileges] of Object.entries(baseline)) {
    const now = current[path];
    for (const privilege of privileges) {
      if (now) {
        if (!now.includes(privilege)) lost.push(`${privilege} on ${path}`);
      } else if (!ancestors(path).some((above) => current[above]?.includes(privilege))) {
        lost.push(`${privilege} on ${path}`);
      }
    }
  }
  return lost.sort();
}

/** Compare a reading with the stored baseline (storing it when there is none for this token). */
export async function judgePermissions(store: Store, tokenId: string, reading: PermissionMap): Promise<PermissionsVerdict> {
  const current = held(reading);
  const counts = { paths: Object.keys(current).length, privileges: Object.values(current).reduce((sum, list) => sum + list.length, 0) };
  const stored = await store.settings.get<PermissionsBaseline>(permissionsBaselineKey);
  if (!stored || stored.tokenId !== tokenId || typeof stored.privileges !== 'object') {
    const baseline: PermissionsBaseline = { tokenId, takenAt: new Date().toISOString(), privileges: current };
    await store.settings.set(permissionsBaselineKey, baseline);
    return { first: true, baseline, lost: [], ...counts };
  }
  return { first: false, baseline: stored, lost: lostPrivileges(stored.privileges, current), ...counts };
}

/** e.g. `3 privilege(s) on 2 path(s): /vms (2: VM.Audit, VM.PowerMgmt), /storage (1: Datastore.Audit)`. */
export function lostSummary(verdict: PermissionsVerdict, maxPaths = 12): string {
  const byPath = new Map<string, string[]>();
  for (const entry of verdict.lost) {
    const at = entry.lastIndexOf(' on ');
    const path = entry.slice(at + 4);
    byPath.set(path, [...(byPath.get(path) ?? []), entry.slice(0, at)]);
  }
  const paths = [...byPath.entries()].slice(0, maxPaths).map(([path, privileges]) => `${path} (${privileges.length}: ${privileges.slice(0, 3).join(', ')}${privileges.length > 3 ? ', ...' : ''})`);
  return `${verdict.lost.length} privilege(s) on ${byPath.size} path(s): ${paths.join(', ')}${byPath.size > maxPaths ? ', ...' : ''}`;
}

export const permissionsAction =
  'Someone removed privileges from this server\'s Proxmox token or user (an ACL, a role, a group or propagate changed). Check `pveum acl list` and `pveum user permissions <token>` on the host and restore them (re-running ./setup.sh grants the standard set). If the reduction is intended, delete the setting proxmox.permissions.baseline so that the current set becomes the new baseline.';

/** The start-up check: read, compare, say loudly when rights shrank. Never throws. */
export async function checkPermissionsAtStart(deps: { store: Store; pve: PveClient; log: Logger }): Promise<PermissionsVerdict | undefined> {
  try {
    const reading = await deps.pve.get<PermissionMap>('/access/permissions', undefined, { timeoutMs: 10_000 });
    const verdict = await judgePermissions(deps.store, deps.pve.tokenId, reading);
    if (verdict.first) deps.log.info('Recorded the Proxmox token\'s effective permissions as the baseline', { token: deps.pve.tokenId, paths: verdict.paths, privileges: verdict.privileges });
    else if (verdict.lost.length > 0) {
      deps.log.warn(`THIS SERVER'S PROXMOX PERMISSIONS SHRANK since ${verdict.baseline.takenAt}: lost ${lostSummary(verdict)}`, { token: deps.pve.tokenId, lost: verdict.lost.length });
    }
    return verdict;
  } catch (error) {
    deps.log.warn('Could not read this server\'s own Proxmox permissions at start; health_check will try again', { error: (error as Error).message });
    return undefined;
  }
}
