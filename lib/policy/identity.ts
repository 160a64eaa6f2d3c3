/**
 * What this server is in Proxmox: its user, its token, the roles it holds (on any path, through the
 * user, the token or a group), the groups it is in and the ACL paths that grant it something. The rules
 * that keep the server's rights out of reach (rules/service-identity.ts) judge against this.
 *
 * Learned from Proxmox (GET /access/acl and GET /access/users/<user>) at start and again when older than
 * a minute. `complete` is false when Proxmox did not show enough to be sure (no ACL entry of ours was
 * visible, the user's groups could not be read, or GET /access/permissions shows a path where the server
 * has rights but no Sys.Audit, so the entries there are hidden from it); the rules then refuse what they
 * cannot judge.
 */
import type { PveClient } from '../pve/types.ts';
import { resolveDotSegments } from './normalize.ts';

export interface ServiceIdentity {
  /** e.g. proxmox-mcp@pve, lower-case. */
  user: string;
  /** e.g. proxmox-mcp@pve!mcp, lower-case. */
  tokenId: string;
  /** Role ids held through the user, the token or a group, lower-case. */
  roles: Set<string>;
  /** Groups the user is in, lower-case. */
  groups: Set<string>;
  /** ACL paths with an entry for the user, the token or one of its groups (normalised, lower-case). */
  grantPaths: Set<string>;
  /** False when the server could not see all of the above. */
  complete: boolean;
  /** Why it is not complete. */
  gaps: string[];
}

interface AclRow {
  path?: string;
  type?: string;
  ugid?: string;
  roleid?: string;
}

/** An ACL path as compared: lower-case, single slashes, no trailing slash, `.` and `..` resolved. */
export function aclPathKey(path: string): string {
  return resolveDotSegments(path.toLowerCase());
}

const splitGroups = (value: unknown): string[] =>
  (Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(/[,;\s\0]+/) : []).map((group) => group.trim().toLowerCase()).filter(Boolean);

export async function learnServiceIdentity(pve: PveClient): Promise<ServiceIdentity> {
  const tokenId = pve.tokenId.toLowerCase();
  const user = tokenId.split('!')[0];
  const gaps: string[] = [];
  const acl = await pve.get<AclRow[]>('/access/acl');
  let groups = new Set<string>();
  try {
    const info = await pve.get<{ groups?: unknown }>(`/access/users/${encodeURIComponent(pve.tokenId.split('!')[0])}`);
    groups = new Set(splitGroups(info?.groups));
  } catch (error) {
    gaps.push(`the groups of ${user} could not be read (${(error as Error).message})`);
  }
  const roles = new Set<string>();
  const grantPaths = new Set<string>();
  for (const row of Array.isArray(acl) ? acl : []) {
    const ugid = String(row.ugid ?? '').toLowerCase();
    const ours = (row.type === 'user' && ugid === user) || (row.type === 'token' && ugid.split('!')[0] === user) || (row.type === 'group' && groups.has(ugid));
    if (!ours) continue;
    if (row.roleid) roles.add(String(row.roleid).toLowerCase());
    grantPaths.add(aclPathKey(String(row.path ?? '/')));
  }
  if (roles.size === 0) gaps.push(`no ACL entry of ${tokenId} is visible in /access/acl`);
  // Proxmox lists an ACL entry only to a caller with Sys.Audit or Permissions.Modify on its path: where
  // this server has rights but neither of those, entries that grant it (and their roles) are hidden.
  try {
    const permissions = await pve.get<Record<string, Record<string, unknown>>>('/access/permissions');
    const hidden = Object.entries(permissions ?? {})
      .filter(([, privs]) => privs && Object.keys(privs).length > 0 && !privs['Sys.Audit'] && !privs['Permissions.Modify'])
      .map(([path]) => path);
    if (hidden.length) gaps.push(`ACL entries on ${hidden.slice(0, 5).join(', ')}${hidden.length > 5 ? ', ...' : ''} are hidden from this server (it has no Sys.Audit there)`);
  } catch (error) {
    gaps.push(`its own permissions could not be read (${(error as Error).message})`);
  }
  return { user, tokenId, roles, groups, grantPaths, complete: gaps.length === 0, gaps };
}

const maxAgeMs = 60_000;
const cache = new WeakMap<PveClient, { at: number; promise: Promise<ServiceIdentity> }>();

/** The identity as last learned through this client (re-learned after a minute or after a failure). */
export function serviceIdentity(pve: PveClient): Promise<ServiceIdentity> {
  const cached = cache.get(pve);
  if (cached && Date.now() - cached.at < maxAgeMs) return cached.promise;
  const entry = { at: Date.now(), promise: learnServiceIdentity(pve) };
  cache.set(pve, entry);
  entry.promise.catch(() => {
    if (cache.get(pve) === entry) cache.delete(pve);
  });
  return entry.promise;
}
