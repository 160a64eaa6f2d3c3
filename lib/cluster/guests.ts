/**
 * Guest helpers the snapshot and backup tools share: where a guest is and what kind it is (from the
 * cached /cluster/resources via locateGuest), and the API path and CLI word for it.
 */
import type { GuestLocation, GuestType } from '../pve/types.ts';
import type { ToolContext } from '../tool.ts';

export function guestBase(guest: { node: string; type: GuestType; vmid: number }): string {
  return `/nodes/${encodeURIComponent(guest.node)}/${guest.type}/${guest.vmid}`;
}

export function guestLabel(guest: { type: GuestType; vmid: number; name?: string }): string {
  return `${guest.type === 'lxc' ? 'CT' : 'VM'} ${guest.vmid}${guest.name ? ` (${guest.name})` : ''}`;
}

/** `qm` for VMs, `pct` for containers. */
export function guestCli(type: GuestType): 'qm' | 'pct' {
  return type === 'lxc' ? 'pct' : 'qm';
}

/** locateGuest, but for plans: a guest that cannot be found yet still gets a plan with placeholders. */
export async function locateForPlan(ctx: ToolContext, vmid: number): Promise<GuestLocation | undefined> {
  try {
    return await ctx.pve.locateGuest(vmid, { signal: ctx.signal });
  } catch {
    return undefined;
  }
}
