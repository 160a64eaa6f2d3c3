/**
 * Guests with the Proxmox `protection` flag: nothing that would clear the flag, directly or indirectly,
 * and nothing that destroys their data is sent.
 *  - destroy (DELETE the guest); a config change that sets protection to anything but true, or lists it
 *    in `delete`/`revert` (split as Proxmox splits lists);
 *  - a rollback to a snapshot whose saved config lacks protection=1 (Proxmox copies every snapshot key
 *    back, the flag included): the snapshot's config is read first;
 *  - a forced restore over the guest (POST /nodes/{node}/qemu|lxc with vmid and force);
 *  - deleting one of their volumes through the storage (DELETE .../storage/{s}/content/{volume}: Proxmox
 *    has no in-use check there; the owner id is in the volume name), move-disk/move-volume with delete
 *    or to another guest (target-vmid), remote migration with delete, unlink with force.
 * When the cluster cannot say whether a guest is protected, the request is refused.
 */
import { paramItems, paramReadings, type NormalizedRequest } from '../normalize.ts';
import { flagSet, guestProtection, maybeTrue, refuse, vmidOf, type PolicyRule, type ProtectionContext } from './common.ts';

const truthy = ['1', 'true', 'yes', 'on'];

/** The guest ids named in a volume id: vm-101-disk-0, base-101-disk-0, subvol-101-disk-0, 110/vm-110-disk-0.qcow2, ... */
export function volumeOwners(volume: string): number[] {
  const text = volume.toLowerCase();
  const owners = new Set<number>();
  for (const match of text.matchAll(/(?:^|[:/\s])(?:vm|base|subvol|basevol)-(\d+)-/g)) owners.add(Number(match[1]));
  for (const match of text.matchAll(/(?:^|[:\s])(?:images\/)?0*(\d+)\//g)) owners.add(Number(match[1]));
  return [...owners];
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
  if (first !== 'nodes') return;
  const method = req.method;

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
