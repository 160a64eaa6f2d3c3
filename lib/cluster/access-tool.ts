/**
 * Proxmox access control (users, groups, roles, ACLs, API tokens) as two tools, so that each tool's
 * annotations are true for every call it accepts (issue 15): user_list reads (list, get) for every role,
 * user_change creates, updates and deletes (admin client tokens only; every change is judged by the one
 * API policy before anyone is asked). functions/user_list.ts and functions/user_change.ts are made here.
 */
import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../tool.ts';
import { ToolError } from '../errors.ts';
import { num } from '../pve/parse.ts';
import { flag, isoFromEpoch, text } from './format.ts';
import { judgeRequest } from '../policy/guard.ts';
import { splitList } from '../policy/split-list.ts';

const kinds = ['user', 'group', 'role', 'acl', 'token'] as const;
const actions = ['list', 'get', 'create', 'update', 'delete'] as const;
type Kind = (typeof kinds)[number];
type Action = (typeof actions)[number];

const rootUser = 'root@pam';

const userId = z
  .string()
  .regex(/^[^\s:/@!]{1,60}@[A-Za-z][A-Za-z0-9.\-_]+$/, 'userid is name@realm, e.g. alice@pve or bob@pam')
  .describe('User id, name@realm, e.g. alice@pve');
const groupId = z.string().regex(/^[A-Za-z0-9.\-_]+$/, 'group ids use letters, digits, ".", "-" and "_"');
const roleId = z.string().regex(/^[A-Za-z0-9.\-_]+$/, 'role ids use letters, digits, ".", "-" and "_"');
const tokenName = z.string().regex(/^[A-Za-z][A-Za-z0-9.\-_]+$/, 'token ids start with a letter, then letters, digits, ".", "-" or "_" (at least 2 characters)');
const fullTokenId = z.string().regex(/^[^\s:/@!]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/, 'tokens are named user@realm!tokenid');
const privilege = z.string().regex(/^[A-Z][A-Za-z]*(\.[A-Za-z]+)+$/, 'privileges look like VM.Audit or Datastore.AllocateSpace');
const aclPath = z
  .string()
  .regex(/^\/[A-Za-z0-9.\-_/]*$/, 'ACL paths look like /, /vms/101, /storage/local, /nodes/pve1, /pool/dev, /access/groups')
  .describe('ACL path, e.g. /vms/101');

/** Epoch seconds, 0 (never), or a date such as 2026-12-31. */
const expire = z
  .union([z.number().int().min(0), z.string()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value;
    if (/^\d+$/.test(value)) return Number(value);
    const parsed = Date.parse(value);
    if (Number.isNaN(parsed)) {
      ctx.addIssue({ code: 'custom', message: 'expire is an epoch time in seconds, 0 for never, or a date such as 2026-12-31' });
      return z.NEVER;
    }
    return Math.floor(parsed / 1000);
  })
  .describe('Date, epoch or 0 (never)');

const input = z.object({
  kind: z.enum(kinds).describe('user | group | role | acl | token'),
  action: z.enum(actions).describe('list | get | create | update | delete'),
  userid: userId.optional().describe('name@realm'),
  email: z.string().email('email must be an e-mail address').optional(),
  firstname: z.string().max(1024).optional(),
  lastname: z.string().max(1024).optional(),
  groups: z.array(groupId).optional(),
  append_groups: z.boolean().optional().describe('Add, not replace'),
  enable: z.boolean().optional(),
  expire: expire.optional(),
  comment: z.string().max(2048).optional(),
  password: z.string().min(8, 'passwords need at least 8 characters').max(64).optional().describe('user create, pve realm'),
  groupid: groupId.optional(),
  roleid: roleId.optional(),
  privs: z.array(privilege).optional().describe('e.g. ["VM.Audit"]'),
  append_privs: z.boolean().optional().describe('Add, not replace'),
  path: aclPath.optional(),
  roles: z.array(roleId).optional(),
  users: z.array(userId).optional(),
  tokens: z.array(fullTokenId).optional().describe('user@realm!tokenid'),
  propagate: z.boolean().default(true),
  tokenid: tokenName.optional().describe('The part after !'),
  privsep: z.boolean().optional().describe('Default true: the token needs its own ACLs'),
});

type Input = z.output<typeof input>;

function effectOf(args: Input): Effect {
  if (args.action === 'list' || args.action === 'get') return 'read';
  if (args.action === 'delete') return 'destructive';
  return 'write';
}

const realmOf = (userid: string) => userid.slice(userid.lastIndexOf('@') + 1);

function needs(args: Input, ctx: ToolContext): PrivilegeNeed[] {
  const read = args.action === 'list' || args.action === 'get';
  switch (args.kind) {
    case 'user':
      if (args.action === 'list') return [];
      if (args.action === 'get') return [{ path: '/access/groups', privileges: ['User.Modify', 'Sys.Audit'], any: true }];
      if (args.action === 'update') return [{ path: '/access/groups', privileges: ['User.Modify'] }];
      return [
        { path: `/access/realm/${args.userid ? realmOf(args.userid) : 'pve'}`, privileges: ['Realm.AllocateUser'] },
        { path: '/access/groups', privileges: ['User.Modify'] },
      ];
    case 'group':
      if (args.action === 'list') return [];
      return [{ path: '/access/groups', privileges: read ? ['Sys.Audit', 'Group.Allocate'] : ['Group.Allocate'], any: read }];
    case 'role':
      return read ? [] : [{ path: '/access', privileges: ['Sys.Modify'] }];
    case 'acl':
      return read ? [] : [{ path: args.path ?? '/', privileges: ['Permissions.Modify'] }];
    case 'token': {
      // Own tokens need nothing more; other users' tokens need User.Modify.
      const own = args.userid !== undefined && ctx.pve.tokenId.split('!')[0] === args.userid;
      return own || (read && args.userid === undefined) ? [] : [{ path: '/access/groups', privileges: ['User.Modify'] }];
    }
  }
}

function need<T>(value: T | undefined, name: string, args: Input): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new ToolError('invalid_input', `${args.kind} ${args.action} needs ${name}.`);
  }
  return value;
}

/** The change request a call makes (undefined for reads and incomplete arguments, which run() rejects). */
function changeRequest(args: Input): { method: 'POST' | 'PUT' | 'DELETE'; path: string; params?: Record<string, unknown> } | undefined {
  if (args.action === 'list' || args.action === 'get') return undefined;
  const method = args.action === 'create' ? 'POST' : args.action === 'update' ? 'PUT' : 'DELETE';
  switch (args.kind) {
    case 'user':
      if (!args.userid) return undefined;
      if (args.action === 'create') return { method, path: '/access/users', params: { userid: args.userid, ...(args.groups ? { groups: args.groups.join(',') } : {}) } };
      return {
        method,
        path: `/access/users/${enc(args.userid)}`,
        params: {
          ...(args.enable !== undefined ? { enable: args.enable } : {}),
          ...(args.expire !== undefined ? { expire: args.expire } : {}),
          ...(args.groups !== undefined ? { groups: args.groups.join(','), ...(args.append_groups ? { append: true } : {}) } : {}),
        },
      };
    case 'group':
      if (!args.groupid) return undefined;
      return args.action === 'create' ? { method, path: '/access/groups', params: { groupid: args.groupid } } : { method, path: `/access/groups/${enc(args.groupid)}` };
    case 'role':
      if (!args.roleid) return undefined;
      return args.action === 'create' ? { method, path: '/access/roles', params: { roleid: args.roleid } } : { method, path: `/access/roles/${enc(args.roleid)}`, params: args.privs ? { privs: args.privs.join(',') } : {} };
    case 'acl':
      return {
        method: 'PUT',
        path: '/access/acl',
        params: {
          path: args.path ?? '/',
          roles: (args.roles ?? []).join(','),
          ...(args.users?.length ? { users: args.users.join(',') } : {}),
          ...(args.groups?.length ? { groups: args.groups.join(',') } : {}),
          ...(args.tokens?.length ? { tokens: args.tokens.join(',') } : {}),
          propagate: args.propagate,
          ...(args.action === 'delete' ? { delete: true } : {}),
        },
      };
    case 'token':
      if (!args.userid || !args.tokenid) return undefined;
      return { method, path: `/access/users/${enc(args.userid)}/token/${enc(args.tokenid)}`, params: args.privsep !== undefined ? { privsep: args.privsep } : {} };
  }
}

/**
 * Early refusals, before a confirmation is asked: the change this call would send is judged by the one
 * API policy (lib/policy/protections.ts), the same that judges it again when it is sent.
 */
async function vetChange(args: Input, ctx: ToolContext): Promise<void> {
  const request = changeRequest(args);
  if (request) await judgeRequest(ctx, request.method, request.path, request.params);
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String).filter(Boolean) : splitList(String(value ?? '')));

/**
 * The users among `userids` that hold no ACL entry this server can see (none of their own, none through a
 * group; NoAccess grants nothing). A token with privilege separation has the intersection of its own
 * rights and its user's, so such a user's privsep tokens can do nothing, whatever is granted to them.
 * root@pam has every right without ACL entries. When the ACL list cannot be read, nobody is named.
 */
async function usersWithoutRights(ctx: ToolContext, userids: string[], options: { signal: AbortSignal }): Promise<Set<string>> {
  const found = new Set<string>();
  const wanted = [...new Set(userids)].filter((userid) => userid !== rootUser);
  if (!wanted.length) return found;
  const acl = await ctx.pve.get<Record<string, unknown>[]>('/access/acl', undefined, options).catch(() => undefined);
  if (!Array.isArray(acl)) return found;
  const granting = acl.filter((entry) => String(entry.roleid) !== 'NoAccess');
  for (const userid of wanted) {
    const user = await ctx.pve.get<Record<string, unknown>>(`/access/users/${enc(userid)}`, undefined, options).catch(() => undefined);
    if (!user) continue;
    const groups = new Set(list(user.groups));
    const holds = granting.some((entry) => (entry.type === 'user' && entry.ugid === userid) || (entry.type === 'group' && groups.has(String(entry.ugid))));
    if (!holds) found.add(userid);
  }
  return found;
}

/** A warning for each privsep token whose user holds no rights. */
async function deadTokens(ctx: ToolContext, tokens: { full_tokenid: string; userid: string; privsep: boolean }[], options: { signal: AbortSignal }): Promise<string[]> {
  const separated = tokens.filter((token) => token.privsep);
  const without = await usersWithoutRights(ctx, separated.map((token) => token.userid), options);
  return separated.filter((token) => without.has(token.userid)).map((token) => deadTokenWarning(token.full_tokenid, token.userid));
}

const deadTokenWarning = (fullTokenid: string, userid: string) =>
  `${fullTokenid} is dead: it has privilege separation and its user ${userid} holds no ACL entry (own or through a group), and a privsep token only has the rights both hold. Grant ${userid} (or its group) the roles too: user_change kind acl action create users ["${userid}"].`;

function userInfo(row: Record<string, unknown>, userid: string) {
  const expireAt = num(row.expire);
  const tokens = Array.isArray(row.tokens) ? row.tokens.map((token) => String((token as Record<string, unknown>).tokenid)) : row.tokens && typeof row.tokens === 'object' ? Object.keys(row.tokens) : undefined;
  return {
    userid,
    enable: flag(row.enable) ?? true,
    expire: expireAt ?? 0,
    expires_at: expireAt ? isoFromEpoch(expireAt) : undefined,
    firstname: text(row.firstname),
    lastname: text(row.lastname),
    email: text(row.email),
    comment: text(row.comment),
    groups: list(row.groups),
    tokens,
    protected: userid === rootUser,
  };
}

const userSchema = z.object({
  userid: z.string(),
  enable: z.boolean(),
  expire: z.number(),
  expires_at: z.string().optional(),
  firstname: z.string().optional(),
  lastname: z.string().optional(),
  email: z.string().optional(),
  comment: z.string().optional(),
  groups: z.array(z.string()),
  tokens: z.array(z.string()).optional(),
  protected: z.boolean().describe('root@pam, or this server\'s own user'),
});
const groupSchema = z.object({ groupid: z.string(), comment: z.string().optional(), members: z.array(z.string()) });
const roleSchema = z.object({ roleid: z.string(), privs: z.array(z.string()), builtin: z.boolean() });
const aclSchema = z.object({ path: z.string(), type: z.string(), ugid: z.string(), roleid: z.string(), propagate: z.boolean() });
const tokenSchema = z.object({
  full_tokenid: z.string(),
  userid: z.string(),
  tokenid: z.string(),
  privsep: z.boolean(),
  expire: z.number(),
  expires_at: z.string().optional(),
  comment: z.string().optional(),
  value: z.string().optional().describe('the secret: only in the answer to create, shown this once'),
});

type TokenOut = z.infer<typeof tokenSchema>;

function tokenInfo(userid: string, tokenid: string, row: Record<string, unknown>): TokenOut {
  const expireAt = num(row.expire) ?? 0;
  return { full_tokenid: `${userid}!${tokenid}`, userid, tokenid, privsep: flag(row.privsep) ?? true, expire: expireAt, expires_at: expireAt ? isoFromEpoch(expireAt) : undefined, comment: text(row.comment) };
}

const enc = encodeURIComponent;

function describe(args: Input): { summary: string; calls: string[]; cli: string; undo?: string; risk: Plan['risk']; warnings: string[] } {
  const id = args.userid ?? args.groupid ?? args.roleid ?? args.path ?? '';
  const warnings: string[] = [];
  switch (args.kind) {
    case 'user': {
      const path = `/access/users${args.userid ? `/${args.userid}` : ''}`;
      if (args.action === 'delete') warnings.push(`Deleting ${args.userid} also removes its API tokens and ACL entries.`);
      if (args.password) warnings.push('A password is set (not shown here and not stored by this server).');
      return {
        summary: `${args.action} user ${id}`.trim(),
        calls: [`${{ list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE' }[args.action]} ${args.action === 'create' ? '/access/users' : path}`],
        cli: `pveum user ${{ list: 'list', get: 'list', create: 'add', update: 'modify', delete: 'delete' }[args.action]}${args.userid ? ` ${args.userid}` : ''}`,
        undo: args.action === 'create' ? `user_change kind user action delete userid ${args.userid}` : undefined,
        risk: args.action === 'delete' ? 'high' : args.action === 'list' || args.action === 'get' ? 'none' : 'medium',
        warnings,
      };
    }
    case 'group':
      if (args.action === 'delete') warnings.push(`Deleting group ${args.groupid} removes its ACL entries; its members lose what the group granted.`);
      return {
        summary: `${args.action} group ${id}`.trim(),
        calls: [`${{ list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE' }[args.action]} /access/groups${args.groupid && args.action !== 'create' ? `/${args.groupid}` : ''}`],
        cli: `pveum group ${{ list: 'list', get: 'list', create: 'add', update: 'modify', delete: 'delete' }[args.action]}${args.groupid ? ` ${args.groupid}` : ''}`,
        undo: args.action === 'create' ? `user_change kind group action delete groupid ${args.groupid}` : undefined,
        risk: args.action === 'delete' ? 'high' : args.action === 'list' || args.action === 'get' ? 'none' : 'low',
        warnings,
      };
    case 'role':
      if (args.action === 'delete') warnings.push(`Deleting role ${args.roleid} removes every ACL entry that grants it.`);
      if (args.action === 'update' && !args.append_privs) warnings.push(`The privileges of ${args.roleid} are REPLACED by the given list (append_privs: true adds instead).`);
      return {
        summary: `${args.action} role ${id}${args.privs ? ` (${args.privs.join(', ')})` : ''}`.trim(),
        calls: [`${{ list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE' }[args.action]} /access/roles${args.roleid && args.action !== 'create' ? `/${args.roleid}` : ''}`],
        cli: `pveum role ${{ list: 'list', get: 'list', create: 'add', update: 'modify', delete: 'delete' }[args.action]}${args.roleid ? ` ${args.roleid}` : ''}${args.privs ? ` --privs "${args.privs.join(',')}"` : ''}`,
        undo: args.action === 'create' ? `user_change kind role action delete roleid ${args.roleid}` : undefined,
        risk: args.action === 'delete' ? 'high' : args.action === 'list' || args.action === 'get' ? 'none' : 'medium',
        warnings,
      };
    case 'acl': {
      const who = [...(args.users ?? []), ...(args.groups ?? []).map((g) => `group ${g}`), ...(args.tokens ?? [])].join(', ');
      const write = args.action !== 'list' && args.action !== 'get';
      return {
        summary: write ? `${args.action === 'delete' ? 'Revoke' : 'Grant'} ${args.roles?.join(', ') ?? '<roles>'} on ${args.path ?? '<path>'} ${args.action === 'delete' ? 'from' : 'to'} ${who || '<who>'}` : `List ACL entries${args.path ? ` on ${args.path}` : ''}`,
        calls: [write ? 'PUT /access/acl' : 'GET /access/acl'],
        cli: write ? `pveum acl ${args.action === 'delete' ? 'delete' : 'modify'} ${args.path ?? '<path>'} --roles ${args.roles?.join(',') ?? '<roles>'}${args.users?.length ? ` --users ${args.users.join(',')}` : ''}${args.groups?.length ? ` --groups ${args.groups.join(',')}` : ''}${args.tokens?.length ? ` --tokens '${args.tokens.join(',')}'` : ''}` : 'pveum acl list',
        undo: write ? `user_change kind acl action ${args.action === 'delete' ? 'create' : 'delete'} with the same path, roles and principals` : undefined,
        risk: !write ? 'none' : args.path === '/' && args.action !== 'delete' ? 'high' : 'medium',
        warnings: args.action !== 'delete' && args.path === '/' && args.propagate ? ['A grant on / with propagate applies to the whole cluster.'] : [],
      };
    }
    case 'token': {
      const full = args.userid && args.tokenid ? `${args.userid}!${args.tokenid}` : '<user>!<token>';
      if (args.action === 'create') warnings.push('The token secret is shown ONCE in the answer; store it right away (it is not kept by this server).');
      if (args.action === 'create' && args.privsep !== false) warnings.push('With privilege separation the new token has no rights until it gets its own ACL entries (kind acl, tokens), and then only those its user holds too.');
      if (args.action === 'delete') warnings.push(`Anything using ${full} stops working at once.`);
      return {
        summary: `${args.action} API token ${args.action === 'list' ? `of ${args.userid ?? 'every user'}` : full}`,
        calls: [`${{ list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE' }[args.action]} /access/users/${args.userid ?? '{userid}'}/token${args.tokenid ? `/${args.tokenid}` : ''}`],
        cli: `pveum user token ${{ list: 'list', get: 'list', create: 'add', update: 'modify', delete: 'remove' }[args.action]} ${args.userid ?? '<user>'}${args.tokenid ? ` ${args.tokenid}` : ''}${args.action === 'create' ? ` --privsep ${args.privsep === false ? 0 : 1}` : ''}`,
        undo: args.action === 'create' ? `user_change kind token action delete userid ${args.userid} tokenid ${args.tokenid}` : undefined,
        risk: args.action === 'delete' ? 'high' : args.action === 'list' || args.action === 'get' ? 'none' : 'medium',
        warnings,
      };
    }
  }
}

const readActions = ['list', 'get'] as const;
const changeActions = ['create', 'update', 'delete'] as const;

/** The read half takes only what names what to read. */
const readInput = input.pick({ kind: true, userid: true, groupid: true, roleid: true, path: true, tokenid: true }).extend({
  action: z.enum(readActions, { error: (issue) => (typeof issue.input === 'string' && (changeActions as readonly string[]).includes(issue.input) ? `${issue.input} is a change: user_change` : undefined) }).default('list'),
});
const changeInput = input.extend({
  action: z.enum(changeActions, { error: (issue) => (typeof issue.input === 'string' && (readActions as readonly string[]).includes(issue.input) ? `${issue.input} is a read: user_list` : undefined) }),
});

const output = z.object({
    kind: z.enum(kinds),
    action: z.enum(actions),
    users: z.array(userSchema).optional(),
    user: userSchema.optional(),
    groups: z.array(groupSchema).optional(),
    group: groupSchema.optional(),
    roles: z.array(roleSchema).optional(),
    role: roleSchema.optional(),
    acl: z.array(aclSchema).optional(),
    tokens: z.array(tokenSchema).optional(),
    token: tokenSchema.optional(),
    done: z.string().optional().describe('what was changed'),
  });

export const userListTool = defineTool({
  name: 'user_list',
  title: 'Users and permissions: read',
  description: 'List or get Proxmox users, groups, roles, ACL entries or API tokens, with warnings about tokens that can do nothing or too much.',
  input: readInput,
  output,
  effect: 'read',
  privileges: (args, ctx) => needs(args as Input, ctx),
  async explain(args, ctx): Promise<Plan> {
    const plan = describe(args as Input);
    return { summary: plan.summary, apiCalls: plan.calls, cliEquivalent: plan.cli, privileges: needs(args as Input, ctx), risk: 'none', reversible: true, warnings: [] };
  },
  run: (args, ctx) => runAccess(args as Input, ctx),
});

export const userChangeTool = defineTool({
  name: 'user_change',
  title: 'Users and permissions: change',
  description:
    'Create, update or delete Proxmox users, groups, roles, ACL entries (delete revokes) or API tokens (secret shown once); root@pam and this server are protected.',
  input: changeInput,
  output,
  effect: 'destructive',
  effectOf: (args) => effectOf(args as Input),
  idempotent: false,
  roles: ['admin'],
  privileges: (args, ctx) => needs(args as Input, ctx),
  async explain(args, ctx): Promise<Plan> {
    const all = args as Input;
    await vetChange(all, ctx);
    const plan = describe(all);
    return {
      summary: plan.summary,
      apiCalls: plan.calls,
      cliEquivalent: plan.cli,
      privileges: needs(all, ctx),
      risk: plan.risk,
      reversible: all.action !== 'delete',
      undo: plan.undo,
      warnings: plan.warnings,
    };
  },
  run: (args, ctx) => runAccess(args as Input, ctx),
});

async function runAccess(args: Input, ctx: ToolContext) {
  await vetChange(args, ctx);
  const options = { signal: ctx.signal };
  const ownUser = ctx.pve.tokenId.split('!')[0];
  const base = { kind: args.kind, action: args.action };
  const plan = describe(args);
  const changed = (done: string, extra: Record<string, unknown> = {}, warnings: string[] = []) => ({
    data: { ...base, done, ...extra },
    summary: done,
    warnings: [...plan.warnings.filter((warning) => !/shown ONCE/.test(warning)), ...warnings],
  });

  switch (args.kind) {
    case 'user': {
      if (args.action === 'list') {
        const rows = await ctx.pve.get<Record<string, unknown>[]>('/access/users', { full: true }, options);
        const users = (Array.isArray(rows) ? rows : []).map((row) => ({ ...userInfo(row, String(row.userid)), protected: row.userid === rootUser || row.userid === ownUser })).sort((a, b) => a.userid.localeCompare(b.userid));
        return { data: { ...base, users }, summary: `${users.length} users: ${users.map((user) => `${user.userid}${user.enable ? '' : ' (disabled)'}`).join(', ')}` };
      }
      const userid = need(args.userid, 'userid', args);
      if (args.action === 'get') {
        const row = await ctx.pve.get<Record<string, unknown>>(`/access/users/${enc(userid)}`, undefined, options);
        const user = { ...userInfo(row ?? {}, userid), protected: userid === rootUser || userid === ownUser };
        return { data: { ...base, user }, summary: `${userid}: ${user.enable ? 'enabled' : 'DISABLED'}${user.groups.length ? `, groups ${user.groups.join(', ')}` : ''}${user.tokens?.length ? `, tokens ${user.tokens.join(', ')}` : ''}` };
      }
      if (args.action === 'delete') {
        await ctx.pve.delete(`/access/users/${enc(userid)}`, undefined, options);
        return changed(`Deleted user ${userid}`);
      }
      const fields = {
        ...(args.email !== undefined ? { email: args.email } : {}),
        ...(args.firstname !== undefined ? { firstname: args.firstname } : {}),
        ...(args.lastname !== undefined ? { lastname: args.lastname } : {}),
        ...(args.comment !== undefined ? { comment: args.comment } : {}),
        ...(args.enable !== undefined ? { enable: args.enable } : {}),
        ...(args.expire !== undefined ? { expire: args.expire } : {}),
        ...(args.groups !== undefined ? { groups: args.groups.join(',') } : {}),
      };
      if (args.action === 'create') {
        const warnings: string[] = [];
        if (args.password && realmOf(userid) !== 'pve') warnings.push(`Realm ${realmOf(userid)} keeps its own passwords (e.g. PAM = the Linux account); the password given may not apply there.`);
        await ctx.pve.post('/access/users', { userid, ...fields, ...(args.password ? { password: args.password } : {}) }, options);
        return changed(`Created user ${userid}`, {}, [...warnings, ...(args.password ? [] : [`${userid} has no password yet; a @pve user logs in with one (set it on the host: pveum passwd ${userid}).`])]);
      }
      if (args.password !== undefined) {
        throw new ToolError(
          'forbidden',
          `Proxmox does not let API tokens change passwords (PUT /access/password needs a password login, and this server always uses its API token). Set it on the host: \`pveum passwd ${userid}\`, or in the web UI (Datacenter > Permissions > Users > Password).`,
          { details: { userid } },
        );
      }
      if (Object.keys(fields).length === 0) throw new ToolError('invalid_input', 'Nothing to change: give email, firstname, lastname, comment, enable, expire or groups.');
      await ctx.pve.put(`/access/users/${enc(userid)}`, { ...fields, ...(args.groups !== undefined && args.append_groups ? { append: true } : {}) }, options);
      return changed(`Updated user ${userid} (${Object.keys(fields).join(', ')})`);
    }

    case 'group': {
      if (args.action === 'list') {
        const rows = await ctx.pve.get<Record<string, unknown>[]>('/access/groups', undefined, options);
        const groups = (Array.isArray(rows) ? rows : []).map((row) => ({ groupid: String(row.groupid), comment: text(row.comment), members: list(row.users) })).sort((a, b) => a.groupid.localeCompare(b.groupid));
        return { data: { ...base, groups }, summary: `${groups.length} groups: ${groups.map((group) => `${group.groupid} (${group.members.length})`).join(', ')}` };
      }
      const groupid = need(args.groupid, 'groupid', args);
      if (args.action === 'get') {
        const row = await ctx.pve.get<Record<string, unknown>>(`/access/groups/${enc(groupid)}`, undefined, options);
        const group = { groupid, comment: text(row?.comment), members: list(row?.members) };
        return { data: { ...base, group }, summary: `Group ${groupid}: ${group.members.length ? group.members.join(', ') : 'no members'}` };
      }
      if (args.action === 'create') {
        await ctx.pve.post('/access/groups', { groupid, ...(args.comment !== undefined ? { comment: args.comment } : {}) }, options);
        return changed(`Created group ${groupid}`, {}, ['Add members with kind user action update groups [...] append_groups true; grant rights with kind acl.']);
      }
      if (args.action === 'update') {
        await ctx.pve.put(`/access/groups/${enc(groupid)}`, { comment: need(args.comment, 'comment (the only thing a group has; members are set on the users)', args) }, options);
        return changed(`Updated group ${groupid}`);
      }
      await ctx.pve.delete(`/access/groups/${enc(groupid)}`, undefined, options);
      return changed(`Deleted group ${groupid}`);
    }

    case 'role': {
      if (args.action === 'list') {
        const rows = await ctx.pve.get<Record<string, unknown>[]>('/access/roles', undefined, options);
        const roles = (Array.isArray(rows) ? rows : []).map((row) => ({ roleid: String(row.roleid), privs: list(row.privs).sort(), builtin: flag(row.special) === true })).sort((a, b) => a.roleid.localeCompare(b.roleid));
        return { data: { ...base, roles }, summary: `${roles.length} roles (${roles.filter((role) => !role.builtin).length} custom): ${roles.map((role) => role.roleid).join(', ')}` };
      }
      const roleid = need(args.roleid, 'roleid', args);
      if (args.action === 'get') {
        const row = await ctx.pve.get<Record<string, unknown>>(`/access/roles/${enc(roleid)}`, undefined, options);
        const privs = Object.entries(row ?? {}).filter(([, value]) => flag(value)).map(([key]) => key).sort();
        return { data: { ...base, role: { roleid, privs, builtin: /^(PVE|Administrator$|NoAccess$)/.test(roleid) } }, summary: `Role ${roleid}: ${privs.join(', ') || 'no privileges'}` };
      }
      if (args.action === 'delete') {
        await ctx.pve.delete(`/access/roles/${enc(roleid)}`, undefined, options);
        return changed(`Deleted role ${roleid}`);
      }
      const privs = args.action === 'create' ? (args.privs ?? []) : need(args.privs, 'privs', args);
      if (args.action === 'create') await ctx.pve.post('/access/roles', { roleid, ...(privs.length ? { privs: privs.join(',') } : {}) }, options);
      else await ctx.pve.put(`/access/roles/${enc(roleid)}`, { privs: privs.join(','), ...(args.append_privs ? { append: true } : {}) }, options);
      return changed(`${args.action === 'create' ? 'Created' : 'Updated'} role ${roleid}${privs.length ? ` (${privs.join(', ')})` : ''}`);
    }

    case 'acl': {
      if (args.action === 'list' || args.action === 'get') {
        const rows = await ctx.pve.get<Record<string, unknown>[]>('/access/acl', undefined, options);
        const who = new Set([...(args.users ?? []), ...(args.groups ?? []), ...(args.tokens ?? []), ...(args.userid ? [args.userid] : [])]);
        const acl = (Array.isArray(rows) ? rows : [])
          .map((row) => ({ path: String(row.path), type: String(row.type), ugid: String(row.ugid), roleid: String(row.roleid), propagate: flag(row.propagate) ?? true }))
          .filter((entry) => !args.path || entry.path === args.path)
          .filter((entry) => who.size === 0 || who.has(entry.ugid))
          .sort((a, b) => a.path.localeCompare(b.path) || a.ugid.localeCompare(b.ugid));
        return { data: { ...base, acl }, summary: `${acl.length} ACL entr${acl.length === 1 ? 'y' : 'ies'}${args.path ? ` on ${args.path}` : ''}` };
      }
      const path = need(args.path, 'path', args);
      const roles = need(args.roles, 'roles', args);
      if (!args.users?.length && !args.groups?.length && !args.tokens?.length) throw new ToolError('invalid_input', 'An ACL entry needs users, groups or tokens to grant the roles to.');
      await ctx.pve.put(
        '/access/acl',
        {
          path,
          roles: roles.join(','),
          ...(args.users?.length ? { users: args.users.join(',') } : {}),
          ...(args.groups?.length ? { groups: args.groups.join(',') } : {}),
          ...(args.tokens?.length ? { tokens: args.tokens.join(',') } : {}),
          propagate: args.propagate,
          ...(args.action === 'delete' ? { delete: true } : {}),
        },
        options,
      );
      return changed(plan.summary);
    }

    case 'token': {
      if (args.action === 'list') {
        let tokens: TokenOut[];
        if (args.userid) {
          const rows = await ctx.pve.get<Record<string, unknown>[]>(`/access/users/${enc(args.userid)}/token`, undefined, options);
          tokens = (Array.isArray(rows) ? rows : []).map((row) => tokenInfo(args.userid!, String(row.tokenid), row));
        } else {
          const rows = await ctx.pve.get<Record<string, unknown>[]>('/access/users', { full: true }, options);
          tokens = (Array.isArray(rows) ? rows : []).flatMap((row) => (Array.isArray(row.tokens) ? row.tokens : []).map((token) => tokenInfo(String(row.userid), String((token as Record<string, unknown>).tokenid), token as Record<string, unknown>)));
        }
        tokens.sort((a, b) => a.full_tokenid.localeCompare(b.full_tokenid));
        const now = Date.now() / 1000;
        const expired = tokens.filter((token) => token.expire && token.expire < now);
        return {
          data: { ...base, tokens },
          summary: `${tokens.length} API token${tokens.length === 1 ? '' : 's'}${args.userid ? ` of ${args.userid}` : ''}`,
          warnings: [
            ...expired.map((token) => `${token.full_tokenid} has expired.`),
            ...tokens.filter((token) => !token.privsep).map((token) => `${token.full_tokenid} has no privilege separation: it has all of its user's rights.`),
            ...(await deadTokens(ctx, tokens, options)),
          ],
        };
      }
      const userid = need(args.userid, 'userid', args);
      const tokenid = need(args.tokenid, 'tokenid', args);
      const path = `/access/users/${enc(userid)}/token/${enc(tokenid)}`;
      if (args.action === 'get') {
        const row = await ctx.pve.get<Record<string, unknown>>(path, undefined, options);
        const token = tokenInfo(userid, tokenid, row ?? {});
        return { data: { ...base, token }, summary: `${token.full_tokenid}: privsep ${token.privsep ? 'on' : 'OFF'}, ${token.expire ? `expires ${token.expires_at}` : 'never expires'}` };
      }
      if (args.action === 'delete') {
        await ctx.pve.delete(path, undefined, options);
        return changed(`Deleted API token ${userid}!${tokenid}`);
      }
      const fields = { ...(args.comment !== undefined ? { comment: args.comment } : {}), ...(args.expire !== undefined ? { expire: args.expire } : {}) };
      if (args.action === 'update') {
        if (Object.keys(fields).length === 0 && args.privsep === undefined) throw new ToolError('invalid_input', 'Nothing to change: give comment, expire or privsep.');
        const row = await ctx.pve.put<Record<string, unknown>>(path, { ...fields, ...(args.privsep !== undefined ? { privsep: args.privsep } : {}) }, options);
        return changed(`Updated API token ${userid}!${tokenid}`, { token: tokenInfo(userid, tokenid, row ?? {}) });
      }
      const created = await ctx.pve.post<Record<string, unknown>>(path, { ...fields, privsep: args.privsep ?? true }, options);
      const info = (created?.info ?? {}) as Record<string, unknown>;
      const value = text(created?.value);
      const token = { ...tokenInfo(userid, tokenid, info), full_tokenid: text(created?.['full-tokenid']) ?? `${userid}!${tokenid}`, ...(value ? { value } : {}) };
      return {
        data: { ...base, token, done: `Created API token ${token.full_tokenid}` },
        summary: `Created API token ${token.full_tokenid} (the secret is in data.token.value, shown only this once)`,
        warnings: [
          `Store the secret of ${token.full_tokenid} now (data.token.value): Proxmox shows it only this once and this server does not keep it.`,
          ...(token.privsep ? await deadTokens(ctx, [token], options) : []),
          ...(args.privsep !== false ? [`With privilege separation ${token.full_tokenid} has no rights until it gets ACL entries: user_change kind acl action create path / roles [...] tokens ["${token.full_tokenid}"].`] : []),
        ],
        suggestions: [`Use it as: Authorization: PVEAPIToken=${token.full_tokenid}=<secret>`],
      };
    }
  }
}
