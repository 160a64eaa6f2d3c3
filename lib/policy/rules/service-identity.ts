/**
 * This server's own identity, fail closed: its user, every token of that user (none may be created: a
 * privsep=0 token carries all of the user's rights), every role it holds, every group it is in, every ACL
 * entry that names any of them, propagation changes on a path that grants them, and its realm. What the
 * server holds is learned from Proxmox (identity.ts); when that is not known, whatever depends on it is
 * refused.
 */
import { ToolError } from '../../errors.ts';
import { serviceIdentity, aclPathKey, type ServiceIdentity } from '../identity.ts';
import { paramItems, paramReadings, type NormalizedRequest } from '../normalize.ts';
import { refuse, type PolicyRule, type ProtectionContext } from './common.ts';

async function identityOf(ctx: ProtectionContext): Promise<ServiceIdentity> {
  try {
    return ctx.identity ? await ctx.identity() : await serviceIdentity(ctx.pve);
  } catch (error) {
    refuse(`This server could not read its own roles, groups and ACLs from Proxmox (${error instanceof ToolError ? error.message : (error as Error).message}), so it cannot tell whether this change would touch its own access; nothing was sent.`);
  }
}

function unknown(identity: ServiceIdentity, what: string): never {
  refuse(`This server cannot tell whether ${what} is part of its own access (${identity.gaps.join('; ')}); nothing was sent. Give its token Sys.Audit on /access, or make the change on the host.`);
}

async function check(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const [first, second, third, fourth] = req.segments;
  const tokenId = ctx.serviceTokenId.toLowerCase();
  const user = tokenId.split('!')[0];
  const realm = user.slice(user.lastIndexOf('@') + 1);
  if (first === 'cluster' && second === 'jobs' && third === 'realm-sync' && fourth !== undefined && req.segments.length === 4) {
    await checkRealmSyncJob(req, ctx, realm, user);
    return;
  }
  if (first === 'pools' || (first === 'storage' && second !== undefined && req.method === 'DELETE')) {
    await checkGrantingObject(req, ctx);
    return;
  }
  if (first !== 'access') return;
  const isOurs = (item: string) => item === user || item.split('!')[0] === user;

  if (second === 'users' && third !== undefined && isOurs(third)) {
    if (fourth === 'token') refuse(`${third} is this server's own Proxmox user; its tokens (${tokenId} and any new one, which could carry the user's rights) cannot be created, changed or deleted through the server itself.`);
    if (req.method === 'DELETE' && !fourth) refuse(`${user} is this server's own Proxmox user; deleting it would cut the server off. Uninstall with ./setup.sh --uninstall instead.`);
    refuse(`${user} is this server's own Proxmox user; it cannot be changed through the server itself (no enable, expiry, group or other change).`);
  }
  if (second === 'users' && !third && paramItems(req, 'userid').some(isOurs)) refuse(`${user} is this server's own Proxmox user and cannot be re-created or changed through it.`);
  if ((second === 'password' || second === 'tfa') && ((third !== undefined && isOurs(third)) || paramItems(req, 'userid').some(isOurs))) {
    refuse(`${user} is this server's own Proxmox user; its password and second factors cannot be changed through the server itself.`);
  }
  if (second === 'domains' && third === realm) refuse(`The ${realm} realm holds this server's own user (${user}); it cannot be changed or removed through the server itself.`);
  if (second === 'domains' && third !== undefined && fourth === 'sync' && req.method === 'POST') await checkSyncedGroups(ctx, third);

  if (second === 'acl') {
    if (paramItems(req, 'users').some(isOurs) || paramItems(req, 'tokens').some(isOurs)) {
      refuse(`This ACL change names this server's own user or token (${tokenId}); its rights cannot be changed through the server itself (no re-grant, other role, propagate change or removal).`);
    }
    const groups = paramItems(req, 'groups');
    const propagateChanged = req.raw.propagate !== undefined && paramReadings(req, 'propagate').some((value) => !['1', 'true', 'yes', 'on'].includes(value));
    if (groups.length === 0 && !propagateChanged) return;
    const identity = await identityOf(ctx);
    const inGroup = groups.find((group) => identity.groups.has(group));
    if (inGroup) refuse(`This server's user is in group ${inGroup}; an ACL change for that group would change the server's own rights.`);
    if (groups.length > 0 && !identity.complete) unknown(identity, `group ${groups.join(', ')}`);
    if (propagateChanged) {
      const paths = paramReadings(req, 'path').map(aclPathKey);
      if (!identity.complete) unknown(identity, `propagation on ${paths.join(', ')}`);
      const granting = paths.find((path) => identity.grantPaths.has(path));
      if (granting) refuse(`propagate=0 on ${granting} rewrites the propagate flag of entries there, and this server holds its rights through ${granting}; not sent.`);
    }
    return;
  }
  if (second === 'roles' && third !== undefined && (req.method === 'PUT' || req.method === 'DELETE' || req.method === 'POST')) {
    const identity = await identityOf(ctx);
    if (identity.roles.has(third)) refuse(`Role ${req.originalSegments[2] ?? third} is one this server holds; editing or deleting it would change the server's own rights.`);
    if (!identity.complete) unknown(identity, `role ${third}`);
    return;
  }
  if (second === 'groups' && third !== undefined) {
    const identity = await identityOf(ctx);
    if (identity.groups.has(third)) refuse(`This server's user is in group ${req.originalSegments[2] ?? third}; the group cannot be changed or deleted through the server itself.`);
    if (!identity.complete) unknown(identity, `group ${third}`);
  }
}

/**
 * A realm-sync job (/cluster/jobs/realm-sync/{id}) on the realm of this server's user (or root@pam's)
 * syncs it from a directory; with remove-vanished (or the old full/purge) it removes users, their tokens
 * and ACL entries that the directory does not list, the server's own among them. POST names the realm;
 * PUT keeps the job's realm, read from Proxmox (fail closed). A sync of the realm itself
 * (POST /access/domains/{realm}/sync) is refused with the realm below.
 */
async function checkRealmSyncJob(req: NormalizedRequest, ctx: ProtectionContext, realm: string, user: string): Promise<void> {
  if (req.method !== 'POST' && req.method !== 'PUT') return;
  const guarded = new Set([realm, 'pam']);
  let realms = paramItems(req, 'realm');
  if (req.method === 'PUT' || realms.length === 0) {
    const id = req.originalSegments[3] ?? req.segments[3];
    try {
      const job = await ctx.pve.get<{ realm?: string }>(`/cluster/jobs/realm-sync/${encodeURIComponent(id)}`);
      realms = [...realms, String(job?.realm ?? '').toLowerCase()];
    } catch (error) {
      if (req.method === 'PUT') refuse(`Could not read realm-sync job ${id} to see which realm it syncs (${(error as Error).message}); it could be the realm of this server's own user, so nothing was sent.`);
    }
  }
  const hit = realms.find((item) => guarded.has(item.trim()));
  for (const other of realms) if (other.trim() && !guarded.has(other.trim())) await checkSyncedGroups(ctx, other.trim());
  if (hit) refuse(`Realm-sync job ${req.originalSegments[3] ?? req.segments[3]} syncs the ${hit} realm, which holds ${hit === 'pam' ? 'root@pam' : `this server's own user (${user})`}; a sync (with remove-vanished) could remove that user, its tokens or its ACL entries. Not sent.`);
}

/**
 * Proxmox removes the ACL entries of a pool or storage when it is deleted (and a guest taken out of a
 * pool loses what the pool's entries grant on it): when this server holds rights through /pool/<id> or
 * /storage/<id>, deleting that pool or storage, or changing the pool's members, strips them.
 */
async function checkGrantingObject(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  if (req.method === 'GET' || req.method === 'POST') return;
  const [first, second] = req.segments;
  const ids = first === 'pools' ? (second !== undefined ? [second] : paramItems(req, 'poolid')) : [second];
  const paths = ids.map((id) => aclPathKey(`/${first === 'pools' ? 'pool' : 'storage'}/${id}`));
  if (paths.length === 0) return;
  const identity = await identityOf(ctx);
  const granting = paths.find((path) => identity.grantPaths.has(path));
  if (granting) refuse(`This server holds its rights through ${granting}; ${req.method === 'DELETE' ? 'deleting it removes those ACL entries' : 'changing its members changes what they grant'}, so it is not done through the server itself.`);
  if (!identity.complete) unknown(identity, paths.join(', '));
}

/**
 * A sync of another realm manages the groups named `<name>-<realm>` (and removes vanished ones with
 * remove-vanished): when this server's user is in such a group, the sync can take its membership and
 * the group's ACL entries away.
 */
async function checkSyncedGroups(ctx: ProtectionContext, realm: string): Promise<void> {
  const identity = await identityOf(ctx);
  const synced = [...identity.groups].find((group) => group.endsWith(`-${realm.toLowerCase()}`));
  if (synced) refuse(`This server's user is in group ${synced}, which a sync of realm ${realm} manages (and may remove); not sent through the server itself.`);
  if (!identity.complete) unknown(identity, `the groups a sync of realm ${realm} manages`);
}

export const serviceIdentityRule: PolicyRule = { name: 'service identity', check };
