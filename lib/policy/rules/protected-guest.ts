/**
 * Guests with the Proxmox `protection` flag: nothing that would clear the flag, directly or indirectly,
 * and nothing that destroys their data is sent.
 *  - destroy (DELETE the guest); a config change that sets protection to anything but true, or lists it
 *    in `delete`/`revert` (split as Proxmox splits lists);
 *  - a rollback to a snapshot whose saved config lacks protection=1 (Proxmox copies every snapshot key
 *    back, the flag included): the snapshot's config is read first;
 *  - a forced restore over the guest (POST /nodes/{node}/qemu|lxc with vmid and force);
 *  - deleting one of their volumes through the storage (DELETE .../storage/{s}/content/{volume}: Proxmox
 *    has no in-use check there; the owner id is in the volume name), their backups included (vzdump
 *    archives, PBS snapshots vm/<id>/ and ct/<id>/); pruning their backups (DELETE .../prunebackups for
 *    their id, or for no id at all), or a backup run or job that prunes with its own retention over them;
 *    move-disk/move-volume with delete
 *    or to another guest (target-vmid), remote migration with delete, unlink with force.
 * When the cluster cannot say whether a guest is protected, the request is refused.
 */
import { paramItems, paramReadings, type NormalizedRequest } from '../normalize.ts';
import type { ClusterResource } from '../../pve/types.ts';
import { flagSet, guestProtection, maybeTrue, refuse, vmidOf, type PolicyRule, type ProtectionContext } from './common.ts';

const truthy = ['1', 'true', 'yes', 'on'];

/** The guest ids named in a volume id: vm-101-disk-0, base-101-disk-0, subvol-101-disk-0, 110/vm-110-disk-0.qcow2, ... */
export function volumeOwners(volume: string): number[] {
  const text = volume.toLowerCase();
  const owners = new Set<number>();
  for (const match of text.matchAll(/(?:^|[:/\s])(?:vm|base|subvol|basevol)-(\d+)-/g)) owners.add(Number(match[1]));
  for (const match of text.matchAll(/(?:^|[:\s])(?:images\/)?0*(\d+)\//g)) owners.add(Number(match[1]));
  // Backups are the guest's data too: vzdump archives (vzdump-qemu-101-..., vzdump-lxc-..., vzdump-openvz-...)
  // and Proxmox Backup Server snapshots (pbs:backup/vm/101/2024-..., ct/101/..., also below a namespace).
  for (const match of text.matchAll(/vzdump-(?:qemu|lxc|openvz)-0*(\d+)-/g)) owners.add(Number(match[1]));
  for (const match of text.matchAll(/(?:^|[:/\s])(?:vm|ct)\/0*(\d+)(?:\/|$)/g)) owners.add(Number(match[1]));
  return [...owners];
}

/** Every guest in the cluster with the protection flag set (fresh), optionally only of one type. */
export async function protectedGuests(ctx: ProtectionContext, type?: string): Promise<number[]> {
  let resources: ClusterResource[];
  try {
    resources = await ctx.pve.clusterResources('vm', { fresh: true });
  } catch (error) {
    refuse(`Could not check which guests are protected (${(error as Error).message}); nothing was sent. Try again when the cluster answers.`);
  }
  const found: number[] = [];
  for (const row of resources) {
    if ((row.type !== 'qemu' && row.type !== 'lxc') || (type && row.type !== type) || row.vmid === undefined) continue;
    let config: Record<string, unknown>;
    try {
      config = await ctx.pve.get<Record<string, unknown>>(`/nodes/${row.node}/${row.type}/${row.vmid}/config`);
    } catch (error) {
      refuse(`Could not read the configuration of guest ${row.vmid} to check its protection flag (${(error as Error).message}); nothing was sent.`);
    }
    if (flagSet(config?.protection)) found.push(Number(row.vmid));
  }
  return found;
}

/**
 * The guests a prune (or a backup job that prunes) may touch: the vmid list when it names guests,
 * otherwise every protected guest (of the `type` given). An id Proxmox would not read as one fails closed.
 */
async function prunedProtected(req: NormalizedRequest, ctx: ProtectionContext, listName: string, all: boolean): Promise<number[]> {
  const items = paramItems(req, listName);
  const typeReadings = paramReadings(req, 'type');
  const type = typeReadings.length === 1 && (typeReadings[0] === 'qemu' || typeReadings[0] === 'lxc') ? typeReadings[0] : undefined;
  if (all || items.length === 0) return protectedGuests(ctx, type);
  const hit: number[] = [];
  for (const item of items) {
    const vmid = vmidOf(item);
    if (vmid === undefined) refuse(`"${item}" is not a guest id this server can judge, so it cannot tell whether the prune touches a protected guest's backups; nothing was sent.`);
    const guest = await guestProtection(vmid, ctx);
    if (guest.exists && guest.protectedFlag) hit.push(vmid);
  }
  return hit;
}

/** A vzdump run or backup job that prunes with retention given in the request (not the storage's own). */
async function checkBackupPrune(req: NormalizedRequest, ctx: ProtectionContext, where: string): Promise<void> {
  const override = ['prune-backups', 'maxfiles'].filter((name) => req.raw[name] !== undefined);
  if (override.length === 0) return;
  // `remove` defaults to 1: old backups are pruned unless it is clearly off.
  if (req.raw.remove !== undefined && !maybeTrue(paramReadings(req, 'remove'))) return;
  if (override.length === 1 && override[0] === 'prune-backups' && paramReadings(req, 'prune-backups').every((value) => /^keep-all=(1|true|yes|on)$/.test(value.replace(/\s/g, '')))) return;
  const all = maybeTrue(paramReadings(req, 'all')) && req.raw.all !== undefined;
  const pool = req.raw.pool !== undefined;
  const excluded = new Set(paramItems(req, 'exclude').map(vmidOf).filter((id): id is number => id !== undefined));
  const hit = (await prunedProtected(req, ctx, 'vmid', all || pool)).filter((id) => !(all || pool) || !excluded.has(id));
  if (hit.length) {
    refuse(`${where} prunes old backups with its own retention (${override.join(', ')}), and it covers protected guest ${hit.join(', ')}: their backups are their data. Not sent; leave the retention to the storage, or set remove=0.`);
  }
}

async function refuseIfProtected(vmid: number, ctx: ProtectionContext, message: (vmid: number) => string): Promise<void> {
  const guest = await guestProtection(vmid, ctx);
  if (guest.exists && guest.protectedFlag) refuse(message(vmid));
}

async function checkRollback(req: NormalizedRequest, ctx: ProtectionContext, vmid: number, snapname: string): Promise<void> {
  const guest = await guestProtection(vmid, ctx);
  if (!guest.exists || !guest.protectedFlag) return;
  let saved: Record<string, unknown>;
  try {
    saved = await ctx.pve.get<Record<string, unknown>>(`/nodes/${guest.node}/${guest.type}/${vmid}/snapshot/${encodeURIComponent(snapname)}/config`);
  } catch (error) {
    refuse(`Guest ${vmid} is protected and the config saved in snapshot ${snapname} could not be read (${(error as Error).message}); a rollback could clear the flag, so it is not sent.`);
  }
  if (!flagSet(saved?.protection)) {
    refuse(`Guest ${vmid} is protected, but snapshot ${snapname} was taken without the protection flag: a rollback would restore that config and clear the flag. Not sent; set protection in the snapshot's guest by hand on the host if it is really meant.`);
  }
}

async function check(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const [first, , kind, vmidText, action, sub, subAction] = req.segments;
  const method = req.method;
  if (first === 'cluster' && req.segments[1] === 'backup' && (method === 'POST' || method === 'PUT') && (req.segments.length === 2 || req.segments.length === 3)) {
    await checkBackupPrune(req, ctx, 'This backup job');
    return;
  }
  // A storage's own retention, made shorter, prunes the protected guests' backups there at their next backup.
  if (first === 'storage' && req.segments[1] !== undefined && req.segments.length === 2 && method === 'PUT') {
    const override = ['prune-backups', 'maxfiles'].filter((name) => req.raw[name] !== undefined);
    const keepsAll = override.length === 1 && override[0] === 'prune-backups' && paramReadings(req, 'prune-backups').every((value) => /^keep-all=(1|true|yes|on)$/.test(value.replace(/\s/g, '')));
    if (override.length && !keepsAll) {
      const hit = await protectedGuests(ctx);
      if (hit.length) refuse(`Changing the backup retention of storage ${req.originalSegments[1] ?? req.segments[1]} (${override.join(', ')}) prunes the backups of protected guest ${hit.join(', ')} kept there at their next backup; their backups are their data. Not sent; change it on the host or in the web UI.`);
    }
    return;
  }
  if (first !== 'nodes') return;
  if (kind === 'vzdump' && vmidText === undefined && method === 'POST') {
    await checkBackupPrune(req, ctx, 'This backup run');
    return;
  }
  if (kind === 'storage' && action === 'prunebackups' && sub === undefined && method === 'DELETE') {
    const hit = await prunedProtected(req, ctx, 'vmid', false);
    if (hit.length) refuse(`Pruning backups on storage ${req.originalSegments[3] ?? vmidText} would remove backups of protected guest ${hit.join(', ')}; their backups are their data. Not sent; prune only other guests (vmid=...).`);
    return;
  }

  if (kind === 'storage' && action === 'content' && sub !== undefined && method === 'DELETE') {
    const volume = req.originalSegments.slice(5).join('/');
    for (const owner of volumeOwners(volume)) {
      await refuseIfProtected(owner, ctx, (id) => `Volume ${volume} belongs to guest ${id}, which is protected; deleting it through the storage would destroy the guest's data (Proxmox does not check whether it is in use). Not sent.`);
    }
    return;
  }
  if (kind !== 'qemu' && kind !== 'lxc') return;

  if (vmidText === undefined) {
    // A forced restore (POST /nodes/{node}/qemu|lxc with vmid, archive and force) overwrites the guest.
    if (method === 'POST' && maybeTrue(paramReadings(req, 'force')) && req.raw.force !== undefined) {
      for (const text of paramReadings(req, 'vmid')) {
        const vmid = vmidOf(text);
        if (vmid !== undefined) await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; a forced restore would overwrite it, so it is not sent.`);
      }
    }
    return;
  }
  const vmid = vmidOf(vmidText);
  if (vmid === undefined) return;
  const label = kind === 'lxc' ? 'pct' : 'qm';

  if (action === undefined && method === 'DELETE') {
    await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} has the Proxmox protection flag set and will not be destroyed. If it really must go, clear the flag on the host first (\`${label} set ${id} --protection 0\`).`);
    return;
  }
  if (action === 'config' && sub === undefined && (method === 'PUT' || method === 'POST')) {
    const clearing =
      (req.raw.protection !== undefined && paramReadings(req, 'protection').some((value) => !truthy.includes(value))) ||
      ['delete', 'revert'].some((name) => paramItemsIncludeProtection(req, name));
    if (clearing) await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; its protection flag cannot be removed through this server.`);
    // Deleting an unusedN entry destroys that volume (Proxmox checks the flag there too; so does this server).
    const unused = paramItems(req, 'delete').filter((key) => /^unused\d+$/.test(key));
    if (unused.length) await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; deleting ${unused.join(', ')} destroys ${unused.length === 1 ? 'that volume' : 'those volumes'}, so it is not sent.`);
    return;
  }
  if (action === 'snapshot' && sub !== undefined && subAction === 'rollback' && method === 'POST') {
    await checkRollback(req, ctx, vmid, req.originalSegments[5] ?? sub);
    return;
  }
  const deleting = (name: string) => req.raw[name] !== undefined && maybeTrue(paramReadings(req, name));
  if (method === 'POST' && (action === 'move_disk' || action === 'move_volume') && deleting('delete')) {
    await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; moving its disk with delete=1 removes the original volume, so it is not sent. Move without delete and remove the old volume by hand if it is really meant.`);
  }
  // Reassigning a disk to another guest takes it out of the protected one (and that guest can be destroyed).
  const otherTarget = paramReadings(req, 'target-vmid').some((text) => vmidOf(text) !== vmid);
  if (method === 'POST' && (action === 'move_disk' || action === 'move_volume') && otherTarget) {
    await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; moving its disk to another guest would take the data out of the protection, so it is not sent.`);
  }
  if (method === 'POST' && action === 'remote_migrate' && deleting('delete')) {
    await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; a remote migration with delete=1 removes it from this cluster, so it is not sent.`);
  }
  if (method === 'PUT' && action === 'unlink' && deleting('force')) {
    await refuseIfProtected(vmid, ctx, (id) => `Guest ${id} is protected; unlink with force=1 deletes its disks, so it is not sent.`);
  }
}

function paramItemsIncludeProtection(req: NormalizedRequest, name: string): boolean {
  return paramItems(req, name).includes('protection');
}

export const protectedGuestRule: PolicyRule = { name: 'protected guests', check };
