/**
 * A digest of the state of a call's targets, taken when the plan shown to the approver is computed and
 * again just before the approved call runs: if they differ, a target changed since the human looked
 * and the approval no longer counts. For a guest it is Proxmox's own config `digest` (SHA-1 of the
 * config) with the guest's status. The guests are found in the arguments (vmid, a Proxmox API path)
 * and in the plan's Proxmox requests (so a `qm set 101 ...` line or vm_action binds to guest 101 too);
 * calls without a guest target bind to their arguments only (and toggle_mode to the current mode).
 */
import { createHash } from 'node:crypto';
import type { Caller, Plan, ToolContext } from '../tool.ts';

interface GuestTarget {
  node?: string;
  type?: 'qemu' | 'lxc';
  vmid: number;
}

const guestPath = /^\/*(?:api2\/json\/+)?nodes\/+([^/?\s]+)\/+(qemu|lxc)\/+(\d+)/i;

/** At most this many guests are looked up for one approval. */
const maxGuests = 5;

export function guestTargets(input: Record<string, unknown>, plan?: Plan): GuestTarget[] {
  const found = new Map<number, GuestTarget>();
  const add = (target: GuestTarget) => {
    const known = found.get(target.vmid);
    if (!known || (!known.type && target.type)) found.set(target.vmid, target);
  };
  const fromPath = (path: string) => {
    const match = guestPath.exec(path);
    if (match) add({ node: match[1], type: match[2]!.toLowerCase() as 'qemu' | 'lxc', vmid: Number(match[3]) });
  };
  if (typeof input.path === 'string') fromPath(input.path);
  const vmid = typeof input.vmid === 'number' ? input.vmid : typeof input.vmid === 'string' && /^\d+$/.test(input.vmid) ? Number(input.vmid) : undefined;
  if (vmid !== undefined) add({ vmid, node: typeof input.node === 'string' ? input.node : undefined });
  if (Array.isArray(input.vmids)) for (const id of input.vmids) if (typeof id === 'number') add({ vmid: id });
  for (const call of plan?.apiCalls ?? []) {
    const path = call.replace(/^[A-Z]+\s+/, '');
    fromPath(path);
  }
  return [...found.values()].sort((a, b) => a.vmid - b.vmid).slice(0, maxGuests);
}

export async function targetDigest(tool: string, input: Record<string, unknown>, ctx: Pick<ToolContext, 'pve' | 'signal'>, caller: Caller, plan?: Plan): Promise<string> {
  const parts: string[] = [tool];
  if (tool === 'toggle_mode') parts.push(`mode=${caller.mode}`);
  for (const target of guestTargets(input, plan)) {
    try {
      let { node, type } = target;
      if (!node || !type) {
        const located = await ctx.pve.locateGuest(target.vmid, { signal: ctx.signal });
        node = located.node;
        type = located.type;
      }
      const config = await ctx.pve.get<Record<string, unknown>>(`/nodes/${node}/${type}/${target.vmid}/config`, undefined, { signal: ctx.signal });
      const status = await ctx.pve.get<{ status?: string }>(`/nodes/${node}/${type}/${target.vmid}/status/current`, undefined, { signal: ctx.signal }).catch(() => ({ status: 'unknown' }));
      parts.push(`guest=${target.vmid}`, `digest=${String(config?.digest ?? '')}`, `status=${status?.status ?? 'unknown'}`);
    } catch {
      parts.push(`guest=${target.vmid}`, 'absent');
    }
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}
