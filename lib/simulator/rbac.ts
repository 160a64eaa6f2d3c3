/**
 * Permission evaluation like pve-access-control's RPCEnvironment: ACLs on paths, propagation, a deeper
 * matching ACL replacing what was inherited (group entries first, then user/token entries, at each level),
 * NoAccess, pools adding to /vms/<id>, and privilege separation for API tokens (intersection with the
 * owner's privileges). root@pam has every privilege.
 */
import { permError } from './errors.ts';
import { allPrivileges } from './privileges.ts';
import type { SimState } from './state.ts';
import type { Params } from './contract.ts';

export interface AuthInfo {
  /** `user@realm` or `user@realm!tokenid`. */
  authid: string;
  user: string;
  tokenid?: string;
}

export type PrivMap = Map<string, 0 | 1>;

export function splitTokenId(authid: string): { user: string; token?: string } {
  const i = authid.indexOf('!');
  return i < 0 ? { user: authid } : { user: authid.slice(0, i), token: authid.slice(i + 1) };
}

function prefixes(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

export class AccessControl {
  constructor(private readonly state: SimState) {}

  private userActive(userid: string, nowSec: number): boolean {
    const u = this.state.users.get(userid);
    return !!u && u.enable === 1 && (!u.expire || u.expire > nowSec);
  }

  /** Role id -> propagate, for the given user, group membership or token on one path. */
  roles(authid: string, path: string): Map<string, 0 | 1> {
    if (authid === 'root@pam') return new Map([['Administrator', 1]]);
    const { user, token } = splitTokenId(authid);
    const userObj = this.state.users.get(user);
    if (!userObj) return new Map();
    if (token) {
      const info = userObj.tokens.get(token);
      if (!info) return new Map();
      if (!info.privsep) return this.roles(user, path);
    }
    let roles = new Map<string, 0 | 1>();
    for (const p of prefixes(path)) {
      const final = p === path;
      const entries = this.state.acl.filter((a) => a.path === p);
      if (!entries.length) continue;
      if (!token) {
        const fromGroups = new Map<string, 0 | 1>();
        for (const a of entries) {
          if (a.type === 'group' && userObj.groups.has(a.ugid) && (final || a.propagate)) fromGroups.set(a.roleid, a.propagate);
        }
        if (fromGroups.size) roles = fromGroups;
      }
      const own = new Map<string, 0 | 1>();
      const type = token ? 'token' : 'user';
      for (const a of entries) {
        if (a.type === type && a.ugid === authid && (final || a.propagate)) own.set(a.roleid, a.propagate);
      }
      if (own.size) roles = own;
    }
    return roles;
  }

  private privsFromRoles(roles: Map<string, 0 | 1>): PrivMap {
    const out: PrivMap = new Map();
    if (roles.has('NoAccess')) return out;
    for (const [roleid, propagate] of roles) {
      for (const priv of this.state.roles.get(roleid)?.privs ?? []) {
        if (!out.has(priv) || propagate) out.set(priv, propagate);
      }
    }
    return out;
  }

  /** Effective privileges (with their propagate flag) of an authid on a path. */
  privileges(authid: string, path: string, nowSec = Math.floor(Date.now() / 1000)): PrivMap {
    if (authid === 'root@pam') return new Map(allPrivileges(this.state.pveVersion).map((p) => [p, 1 as const]));
    const { user, token } = splitTokenId(authid);
    if (!this.userActive(user, nowSec)) return new Map();
    let privs = this.privsFromRoles(this.roles(authid, path));
    if (token && this.state.users.get(user)?.tokens.get(token)?.privsep) {
      const owner = this.privsFromRoles(this.roles(user, path));
      privs = new Map([...privs].filter(([p]) => owner.has(p)).map(([p, prop]) => [p, (prop && owner.get(p) ? 1 : 0) as 0 | 1]));
    }
    const vm = /^\/vms\/(\d+)$/.exec(path);
    const pool = vm ? this.state.guests.get(Number(vm[1]))?.pool : undefined;
    if (pool) for (const [p, prop] of this.privileges(authid, `/pool/${pool}`, nowSec)) if (!privs.has(p)) privs.set(p, prop);
    return privs;
  }

  has(authid: string, path: string, priv: string): boolean {
    return this.privileges(authid, path).has(priv);
  }

  /** check_perm: all privileges (or any with `any`); throws 403 naming the path and privilege. */
  checkPerm(authid: string, path: string, privs: string[], any = false, noerr = false): boolean {
    const have = this.privileges(authid, path);
    if (any) {
      if (privs.some((p) => have.has(p))) return true;
      if (noerr) return false;
      permError(`${path}, ${privs.join('|')}`);
    }
    for (const p of privs) {
      if (!have.has(p)) {
        if (noerr) return false;
        permError(`${path}, ${p}`);
      }
    }
    return true;
  }

  /** check_api2_permissions for a schema `permissions` object. */
  checkApi(perm: { check?: unknown[]; user?: string } | null, auth: AuthInfo, params: Params): void {
    if (auth.authid === 'root@pam') return;
    if (!perm) permError('user != root@pam');
    if (perm.user === 'all' || perm.user === 'world') return;
    if (perm.check) {
      this.evalCheck(perm.check, auth, params, false);
      return;
    }
    permError();
  }

  private evalCheck(expr: unknown[], auth: AuthInfo, params: Params, noerr: boolean): boolean {
    const [op, ...args] = expr as [string, ...unknown[]];
    const subst = (path: string) => path.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
    switch (op) {
      case 'perm': {
        const [path, privs, mode, flag] = args as [string, string[], string?, number?];
        return this.checkPerm(auth.authid, subst(path), privs, mode === 'any' && !!flag, noerr);
      }
      case 'and':
        for (const sub of args) if (!this.evalCheck(sub as unknown[], auth, params, noerr)) return false;
        return true;
      case 'or':
        for (const sub of args) if (this.evalCheck(sub as unknown[], auth, params, true)) return true;
        if (noerr) return false;
        return permError();
      case 'userid-param': {
        const target = String(params.userid ?? '');
        const ok =
          args[0] === 'self'
            ? target === auth.user
            : this.checkPerm(auth.authid, `/access/realm/${target.slice(target.lastIndexOf('@') + 1)}`, [String(args[0])], false, true);
        if (ok || noerr) return ok;
        return permError();
      }
      case 'userid-group': {
        const privs = args[0] as string[];
        if (this.checkPerm(auth.authid, '/access/groups', privs, true, true)) return true;
        const target = this.state.users.get(String(params.userid ?? ''));
        for (const g of target?.groups ?? []) if (this.checkPerm(auth.authid, `/access/groups/${g}`, privs, true, true)) return true;
        if (noerr) return false;
        return permError();
      }
      case 'perm-modify': {
        const path = subst(String(args[0]));
        const privs = ['Permissions.Modify'];
        if (path.startsWith('/storage')) privs.push('Datastore.Allocate');
        else if (path.startsWith('/vms')) privs.push('VM.Allocate');
        else if (path.startsWith('/pool')) privs.push('Pool.Allocate');
        else if (path.startsWith('/sdn')) privs.push('SDN.Allocate');
        else if (path.startsWith('/mapping')) privs.push('Mapping.Modify');
        return this.checkPerm(auth.authid, path, privs, true, noerr);
      }
      default:
        if (noerr) return false;
        return permError();
    }
  }

  /** GET /access/permissions without `path`: every interesting path where the caller has something. */
  effectivePermissions(authid: string): Record<string, Record<string, 0 | 1>> {
    const paths = new Set(['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms', '/mapping']);
    for (const a of this.state.acl) paths.add(a.path);
    const out: Record<string, Record<string, 0 | 1>> = {};
    for (const p of [...paths].sort()) {
      const privs = this.privileges(authid, p);
      if (privs.size) out[p] = Object.fromEntries([...privs].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }
}
