/**
 * A digest of the state of a call's target, taken when the plan shown to the approver is computed and
 * again just before the approved call runs: if they differ, the target changed since the human looked
 * and the approval no longer counts. For a guest it is Proxmox's own config `digest` (SHA-1 of the
 * config) with the guest's status; calls without a guest target bind to their arguments only.
 */
import { createHash } from 'node:crypto';
import type { Caller, ToolContext } from '../tool.ts';

function guestTarget(input: Record<string, unknown>): { node?: string; type?: 'qemu' | 'lxc'; vmid?: number } {
  if (typeof input.path === 'string') {
    const match = /^\/*(?:api2\/json\/+)?nodes\/+([^/?]+)\/+(qemu|lxc)\/+(\d+)/i.exec(input.path);
    if (match) return { node: match[1], type: match[2]!.toLowerCase() as 'qemu' | 'lxc', vmid: Number(match[3]) };
  }
  const vmid = typeof input.vmid === 'number' ? input.vmid : typeof input.vmid === 'string' && /^\d+$/.test(input.vmid) ? Number(input.vmid) : undefined;
  return { vmid, node: typeof input.node === 'string' ? input.node : undefined };
}

export async function targetDigest(tool: string, input: Record<string, unknown>, ctx: Pick<ToolContext, 'pve' | 'signal'>, caller: Caller): Promise<string> {
  const parts: string[] = [tool];
  if (tool === 'toggle_mode') parts.push(`mode=${caller.mode}`);
  const target = guestTarget(input);
  if (target.vmid !== undefined) {
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
