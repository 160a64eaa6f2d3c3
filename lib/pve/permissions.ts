/**
 * What the configured token may do, from GET /access/permissions ({ "<path>": { "<Priv>": 0|1 } }, where
 * 1 means the privilege propagates to paths below). Proxmox's inheritance: the effective privileges at a
 * path come from the nearest listed ancestor (its own entry included), and an ancestor's privilege only
 * counts below it when it propagates. `/` is the ancestor of every path.
 *
 * Advisory only: Proxmox leaves out paths where the token has no privilege at all, so an explicit
 * NoAccess on a path below a propagating grant looks like the grant. Proxmox still enforces every call;
 * this check exists to refuse early with a clear message.
 */
import type { PrivilegeNeed } from '../tool.ts';
import type { PveClient, PveRequestOptions } from './types.ts';

export type PermissionMap = Record<string, Record<string, number>>;

export interface MissingPrivilege {
  path: string;
  privilege: string;
}

export type PermissionCheck = { ok: true } | { ok: false; missing: MissingPrivilege[] };

export interface PermissionChecker {
  /** Do the token's privileges cover every need? */
  check(needs: PrivilegeNeed[], options?: PveRequestOptions): Promise<PermissionCheck>;
  /** The raw map (cached). */
  permissions(options?: PveRequestOptions): Promise<PermissionMap>;
  /** Forget the cached map (after an ACL change). */
  invalidate(): void;
}

/** `/vms/101/` and `//vms//101` -> `/vms/101`. */
export function normalizeAclPath(path: string): string {
  const cleaned = `/${path.trim()}`.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  return cleaned === '' ? '/' : cleaned;
}

/** `/vms/101` -> [`/vms/101`, `/vms`, `/`]. */
function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  let current = normalizeAclPath(path);
  for (;;) {
    out.push(current);
    if (current === '/') return out;
    const cut = current.lastIndexOf('/');
    current = cut <= 0 ? '/' : current.slice(0, cut);
  }
}

function normalizeMap(raw: unknown): PermissionMap {
  const map: PermissionMap = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return map;
  for (const [path, privileges] of Object.entries(raw as Record<string, unknown>)) {
    if (!privileges || typeof privileges !== 'object') continue;
    const entry: Record<string, number> = {};
    for (const [privilege, flag] of Object.entries(privileges as Record<string, unknown>)) {
      entry[privilege] = flag === 1 || flag === '1' || flag === true ? 1 : 0;
    }
    map[normalizeAclPath(path)] = entry;
  }
  return map;
}

/** Does the map grant `privilege` on `path`? */
export function hasPrivilege(map: PermissionMap, path: string, privilege: string): boolean {
  const chain = selfAndAncestors(path);
  for (let index = 0; index < chain.length; index++) {
    const entry = map[chain[index]];
    if (!entry) continue;
    // The nearest listed path decides: Proxmox lists the effective (inherited) privileges there.
    if (index === 0) return privilege in entry;
    return entry[privilege] === 1;
  }
  return false;
}

/** The missing privileges for a list of needs (an `any` need is met by one of its privileges). */
export function missingPrivileges(map: PermissionMap, needs: PrivilegeNeed[]): MissingPrivilege[] {
  const missing: MissingPrivilege[] = [];
  for (const need of needs) {
    const path = normalizeAclPath(need.path);
    if (need.privileges.length === 0) continue;
    if (need.any) {
      if (!need.privileges.some((privilege) => hasPrivilege(map, path, privilege))) {
        missing.push({ path, privilege: need.privileges.join(' or ') });
      }
      continue;
    }
    for (const privilege of need.privileges) {
      if (!hasPrivilege(map, path, privilege)) missing.push({ path, privilege });
    }
  }
  return missing;
}

/** "this token lacks VM.PowerMgmt on /vms/101" (several joined with "; "). */
export function missingPrivilegesMessage(missing: MissingPrivilege[], who = 'this token'): string {
  const byPath = new Map<string, string[]>();
  for (const item of missing) byPath.set(item.path, [...(byPath.get(item.path) ?? []), item.privilege]);
  return [...byPath.entries()].map(([path, privileges]) => `${who} lacks ${privileges.join(', ')} on ${path}`).join('; ');
}

export function createPermissionChecker(client: PveClient, ttlMs = 30_000): PermissionChecker {
  let cached: { promise: Promise<PermissionMap>; expiresAt?: number } | undefined;

  const permissions = (options: PveRequestOptions = {}): Promise<PermissionMap> => {
    if (cached && (cached.expiresAt === undefined || cached.expiresAt > Date.now())) return cached.promise;
    const entry: { promise: Promise<PermissionMap>; expiresAt?: number } = {
      promise: client.get<unknown>('/access/permissions', undefined, { timeoutMs: options.timeoutMs }).then(normalizeMap),
    };
    cached = entry;
    entry.promise.then(
      () => {
        entry.expiresAt = Date.now() + ttlMs;
      },
      () => {
        if (cached === entry) cached = undefined;
      },
    );
    return entry.promise;
  };

  return {
    permissions,
    async check(needs, options) {
      const map = await permissions(options);
      const missing = missingPrivileges(map, needs);
      return missing.length === 0 ? { ok: true } : { ok: false, missing };
    },
    invalidate() {
      cached = undefined;
    },
  };
}
