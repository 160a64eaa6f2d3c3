/** /access: users, API tokens, groups, roles, ACLs, effective permissions and the password call. */
import { splitList } from '../lists.ts';
import { randomUUID } from 'node:crypto';
import { die, paramError } from '../errors.ts';
import type { Handler, HandlerContext } from '../core.ts';
import { isValidPrivilege } from '../privileges.ts';
import { splitTokenId } from '../rbac.ts';
import type { SimUser } from '../state.ts';

const list = splitList;
const REALMS = new Set(['pam', 'pve']);

function userOf(ctx: HandlerContext): SimUser {
  const u = ctx.core.state.users.get(String(ctx.params.userid));
  if (!u) die(`no such user ('${ctx.params.userid}')`);
  return u;
}

function setUserFields(u: SimUser, p: HandlerContext['params']): void {
  for (const k of ['firstname', 'lastname', 'email', 'comment', 'keys'] as const) if (p[k] !== undefined) u[k] = String(p[k]);
  if (p.enable !== undefined) u.enable = Number(p.enable) ? 1 : 0;
  if (p.expire !== undefined) u.expire = Number(p.expire);
}

function checkGroups(ctx: HandlerContext, groups: string[]): void {
  for (const g of groups) if (!ctx.core.state.groups.has(g)) die(`no such group '${g}'`);
}

function tokenInfo(t: { privsep: number; expire: number; comment?: string }) {
  return { privsep: t.privsep, expire: t.expire, ...(t.comment !== undefined ? { comment: t.comment } : {}) };
}

/** ACL paths as Proxmox normalises them: one leading slash, no trailing or doubled slashes. */
function normalizeAclPath(path: string): string {
  const p = '/' + path.split('/').filter(Boolean).join('/');
  if (!/^\/(access(\/(groups|realm)(\/[^/]+)?)?|vms(\/\d+)?|nodes(\/[^/]+)?|storage(\/[^/]+)?|pool(\/[^/]+)*|sdn(\/.+)?|mapping(\/.+)?)?$/.test(p)) {
    paramError({ path: `invalid ACL path '${path}'` });
  }
  return p;
}

export const accessHandlers: Record<string, Handler> = {
  'GET /access/users': (ctx) => {
    const { core, auth, params } = ctx;
    const mayAll = core.access.checkPerm(auth.authid, '/access/groups', ['User.Modify', 'Sys.Audit'], true, true);
    const out: Record<string, unknown>[] = [];
    for (const u of core.state.users.values()) {
      if (params.enabled !== undefined && u.enable !== Number(params.enabled)) continue;
      const visible = mayAll || u.userid === auth.user || [...u.groups].some((g) => core.access.checkPerm(auth.authid, `/access/groups/${g}`, ['User.Modify', 'Sys.Audit'], true, true));
      if (!visible) continue;
      const row: Record<string, unknown> = { userid: u.userid, enable: u.enable, expire: u.expire, 'realm-type': u.userid.split('@')[1] };
      for (const k of ['firstname', 'lastname', 'email', 'comment', 'keys'] as const) if (u[k] !== undefined) row[k] = u[k];
      if (u.groups.size) row.groups = [...u.groups].join(',');
      if (params.full) row.tokens = [...u.tokens.values()].map((t) => ({ tokenid: t.tokenid, ...tokenInfo(t) }));
      out.push(row);
    }
    return out;
  },

  'POST /access/users': (ctx) => {
    const { core, params } = ctx;
    const userid = String(params.userid);
    if (core.state.users.has(userid)) die(`user '${userid}' already exists`);
    const realm = userid.slice(userid.lastIndexOf('@') + 1);
    if (!REALMS.has(realm)) die(`domain '${realm}' does not exist`);
    const groups = list(params.groups);
    checkGroups(ctx, groups);
    const u: SimUser = { userid, enable: 1, expire: 0, groups: new Set(groups), tokens: new Map() };
    setUserFields(u, params);
    core.state.users.set(userid, u);
    return null;
  },

  'GET /access/users/{userid}': (ctx) => {
    const u = userOf(ctx);
    const out: Record<string, unknown> = { enable: u.enable, expire: u.expire, groups: [...u.groups], tokens: Object.fromEntries([...u.tokens.values()].map((t) => [t.tokenid, tokenInfo(t)])) };
    for (const k of ['firstname', 'lastname', 'email', 'comment', 'keys'] as const) if (u[k] !== undefined) out[k] = u[k];
    return out;
  },

  'PUT /access/users/{userid}': (ctx) => {
    const u = userOf(ctx);
    setUserFields(u, ctx.params);
    if (ctx.params.groups !== undefined) {
      const groups = list(ctx.params.groups);
      checkGroups(ctx, groups);
      if (!ctx.params.append) u.groups.clear();
      for (const g of groups) u.groups.add(g);
    } else if (ctx.params.append) paramError({ append: 'parameter append requires groups' });
    return null;
  },

  'DELETE /access/users/{userid}': (ctx) => {
    const u = userOf(ctx);
    const state = ctx.core.state;
    state.users.delete(u.userid);
    state.acl = state.acl.filter((a) => !(a.type === 'user' && a.ugid === u.userid) && !(a.type === 'token' && splitTokenId(a.ugid).user === u.userid));
    return null;
  },

  'GET /access/users/{userid}/token': (ctx) => [...userOf(ctx).tokens.values()].map((t) => ({ tokenid: t.tokenid, ...tokenInfo(t) })),

  'GET /access/users/{userid}/token/{tokenid}': (ctx) => {
    const u = userOf(ctx);
    const t = u.tokens.get(String(ctx.params.tokenid));
    if (!t) die(`no such token '${ctx.params.tokenid}' for user '${u.userid}'`);
    return tokenInfo(t);
  },

  'POST /access/users/{userid}/token/{tokenid}': (ctx) => {
    const u = userOf(ctx);
    const tokenid = String(ctx.params.tokenid);
    if (u.tokens.has(tokenid)) die(`Token already exists.`);
    const t = {
      tokenid,
      secret: randomUUID(),
      privsep: (ctx.params.privsep === undefined ? 1 : Number(ctx.params.privsep) ? 1 : 0) as 0 | 1,
      expire: ctx.params.expire === undefined ? u.expire : Number(ctx.params.expire),
      ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}),
    };
    u.tokens.set(tokenid, t);
    return { 'full-tokenid': `${u.userid}!${tokenid}`, info: tokenInfo(t), value: t.secret };
  },

  'PUT /access/users/{userid}/token/{tokenid}': (ctx) => {
    const u = userOf(ctx);
    const t = u.tokens.get(String(ctx.params.tokenid));
    if (!t) die(`no such token '${ctx.params.tokenid}' for user '${u.userid}'`);
    if (ctx.params.privsep !== undefined) t.privsep = Number(ctx.params.privsep) ? 1 : 0;
    if (ctx.params.expire !== undefined) t.expire = Number(ctx.params.expire);
    if (ctx.params.comment !== undefined) t.comment = String(ctx.params.comment);
    for (const k of list(ctx.params.delete)) if (k === 'comment') delete t.comment;
    return tokenInfo(t);
  },

  'DELETE /access/users/{userid}/token/{tokenid}': (ctx) => {
    const u = userOf(ctx);
    const tokenid = String(ctx.params.tokenid);
    if (!u.tokens.delete(tokenid)) die(`no such token '${tokenid}' for user '${u.userid}'`);
    const full = `${u.userid}!${tokenid}`;
    ctx.core.state.acl = ctx.core.state.acl.filter((a) => !(a.type === 'token' && a.ugid === full));
    return null;
  },

  'GET /access/groups': (ctx) => {
    const { core, auth } = ctx;
    const out: Record<string, unknown>[] = [];
    for (const [groupid, g] of core.state.groups) {
      if (!core.access.checkPerm(auth.authid, `/access/groups/${groupid}`, ['User.Modify', 'Sys.Audit', 'Group.Allocate'], true, true)) continue;
      const users = [...core.state.users.values()].filter((u) => u.groups.has(groupid)).map((u) => u.userid);
      out.push({ groupid, ...(g.comment !== undefined ? { comment: g.comment } : {}), users: users.join(',') });
    }
    return out;
  },

  'POST /access/groups': (ctx) => {
    const groupid = String(ctx.params.groupid);
    if (ctx.core.state.groups.has(groupid)) die(`group '${groupid}' already exists`);
    ctx.core.state.groups.set(groupid, ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {});
    return null;
  },

  'GET /access/groups/{groupid}': (ctx) => {
    const groupid = String(ctx.params.groupid);
    const g = ctx.core.state.groups.get(groupid);
    if (!g) die(`group '${groupid}' does not exist`);
    return { ...(g.comment !== undefined ? { comment: g.comment } : {}), members: [...ctx.core.state.users.values()].filter((u) => u.groups.has(groupid)).map((u) => u.userid) };
  },

  'PUT /access/groups/{groupid}': (ctx) => {
    const g = ctx.core.state.groups.get(String(ctx.params.groupid));
    if (!g) die(`group '${ctx.params.groupid}' does not exist`);
    if (ctx.params.comment !== undefined) g.comment = String(ctx.params.comment);
    return null;
  },

  'DELETE /access/groups/{groupid}': (ctx) => {
    const groupid = String(ctx.params.groupid);
    const state = ctx.core.state;
    if (!state.groups.delete(groupid)) die(`group '${groupid}' does not exist`);
    for (const u of state.users.values()) u.groups.delete(groupid);
    state.acl = state.acl.filter((a) => !(a.type === 'group' && a.ugid === groupid));
    return null;
  },

  'GET /access/roles': (ctx) =>
    [...ctx.core.state.roles].map(([roleid, r]) => ({ roleid, privs: [...r.privs].sort().join(','), special: r.special })),

  'POST /access/roles': (ctx) => {
    const roleid = String(ctx.params.roleid);
    if (ctx.core.state.roles.has(roleid)) die(`role '${roleid}' already exists`);
    const privs = list(ctx.params.privs);
    for (const p of privs) if (!isValidPrivilege(p, ctx.core.state.pveVersion)) die(`invalid privilege '${p}'`);
    ctx.core.state.roles.set(roleid, { privs: new Set(privs), special: 0 });
    return null;
  },

  'GET /access/roles/{roleid}': (ctx) => {
    const r = ctx.core.state.roles.get(String(ctx.params.roleid));
    if (!r) die(`role '${ctx.params.roleid}' does not exist`);
    return Object.fromEntries([...r.privs].sort().map((p) => [p, 1]));
  },

  'PUT /access/roles/{roleid}': (ctx) => {
    const roleid = String(ctx.params.roleid);
    const r = ctx.core.state.roles.get(roleid);
    if (!r) die(`role '${roleid}' does not exist`);
    if (r.special) die(`cannot modify built-in role '${roleid}'`);
    const privs = list(ctx.params.privs);
    for (const p of privs) if (!isValidPrivilege(p, ctx.core.state.pveVersion)) die(`invalid privilege '${p}'`);
    if (!ctx.params.append) r.privs.clear();
    for (const p of privs) r.privs.add(p);
    return null;
  },

  'DELETE /access/roles/{roleid}': (ctx) => {
    const roleid = String(ctx.params.roleid);
    const state = ctx.core.state;
    const r = state.roles.get(roleid);
    if (!r) die(`role '${roleid}' does not exist`);
    if (r.special) die(`cannot delete built-in role '${roleid}'`);
    state.roles.delete(roleid);
    state.acl = state.acl.filter((a) => a.roleid !== roleid);
    return null;
  },

  'GET /access/acl': (ctx) => {
    const { core, auth } = ctx;
    return core.state.acl
      .filter((a) => core.access.checkPerm(auth.authid, a.path, ['Permissions.Modify', 'Sys.Audit'], true, true))
      .map((a) => ({ path: a.path, type: a.type, ugid: a.ugid, roleid: a.roleid, propagate: a.propagate }));
  },

  'PUT /access/acl': (ctx) => {
    const { core, params } = ctx;
    const state = core.state;
    const path = normalizeAclPath(String(params.path));
    const roles = list(params.roles);
    const propagate = (params.propagate === undefined ? 1 : Number(params.propagate) ? 1 : 0) as 0 | 1;
    for (const r of roles) if (!state.roles.has(r)) die(`role '${r}' does not exist`);
    const targets: { type: 'user' | 'group' | 'token'; ugid: string }[] = [];
    for (const u of list(params.users)) {
      if (!state.users.has(u)) die(`user '${u}' does not exist`);
      targets.push({ type: 'user', ugid: u });
    }
    for (const g of list(params.groups)) {
      if (!state.groups.has(g)) die(`group '${g}' does not exist`);
      targets.push({ type: 'group', ugid: g });
    }
    for (const t of list(params.tokens)) {
      const { user, token } = splitTokenId(t);
      if (!token || !state.users.get(user)?.tokens.has(token)) die(`no such token '${token ?? t}' for user '${user}'`);
      targets.push({ type: 'token', ugid: t });
    }
    if (!targets.length) paramError({ users: 'either users, groups or tokens is required' });
    for (const t of targets) {
      for (const roleid of roles) {
        state.acl = state.acl.filter((a) => !(a.path === path && a.type === t.type && a.ugid === t.ugid && a.roleid === roleid));
        if (!params.delete) state.acl.push({ path, type: t.type, ugid: t.ugid, roleid, propagate });
      }
    }
    return null;
  },

  'GET /access/permissions': (ctx) => {
    const { core, auth, params } = ctx;
    const target = params.userid !== undefined ? String(params.userid) : auth.authid;
    if (target !== auth.authid) {
      const ownToken = splitTokenId(target).user === auth.authid;
      if (!ownToken) core.access.checkPerm(auth.authid, '/access', ['Sys.Audit']);
    }
    if (params.path !== undefined) {
      // RPCEnvironment::permissions returns a hash even when it is empty, so the path is always a key
      const privs = core.access.privileges(target, String(params.path));
      return { [String(params.path)]: Object.fromEntries([...privs].sort(([a], [b]) => a.localeCompare(b))) };
    }
    return core.access.effectivePermissions(target);
  },

  'PUT /access/password': (ctx) => {
    userOf(ctx);
    return null;
  },
};
