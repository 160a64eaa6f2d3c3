/**
 * What differs between QEMU VMs and LXC containers in how we talk about them and to them: the word a
 * person uses (VM / CT), the host CLI (qm / pct), and the API path below a node.
 */
import { guestLabel } from '../cluster/guests.ts';
import { ToolError } from '../errors.ts';
import type { GuestLocation, GuestType, PveClient } from '../pve/types.ts';

export interface GuestKind {
  type: GuestType;
  /** "VM" or "CT", as Proxmox writes it in messages. */
  label: string;
  /** "VM" or "container", for sentences. */
  noun: string;
  cli: 'qm' | 'pct';
}

export const QEMU: GuestKind = { type: 'qemu', label: 'VM', noun: 'VM', cli: 'qm' };
export const LXC: GuestKind = { type: 'lxc', label: 'CT', noun: 'container', cli: 'pct' };

export function kindOf(type: GuestType): GuestKind {
  return type === 'lxc' ? LXC : QEMU;
}

/** `/nodes/pve1/qemu/101` (+ suffix). */
export function guestPath(node: string, type: GuestType, vmid: number, suffix = ''): string {
  return `/nodes/${encodeURIComponent(node)}/${type}/${vmid}${suffix}`;
}

/** Where a guest is: the client's own answer to that question. */
export type Located = GuestLocation;

/**
 * Where a guest is. With `node` given by the caller no lookup is made (one request saved); otherwise one
 * (cached) /cluster/resources call. A guest whose node is offline is refused here with a clear message
 * instead of a 595 from the first call on that node.
 */
export async function locate(pve: PveClient, vmid: number, kind: GuestKind, options: { node?: string; signal?: AbortSignal } = {}): Promise<Located> {
  return locateAny(pve, vmid, { ...options, type: kind.type });
}

/** locate() when the caller may not know whether the id is a VM or a container. */
export async function locateAny(pve: PveClient, vmid: number, options: { node?: string; type?: GuestType; signal?: AbortSignal } = {}): Promise<Located> {
  if (options.node && options.type) return { vmid, type: options.type, node: options.node, template: false };
  const found: GuestLocation = await pve.locateGuest(vmid, { type: options.type, signal: options.signal });
  if (found.status === 'unknown') {
    throw new ToolError(
      'unavailable',
      `${guestLabel({ type: found.type, vmid, name: found.name })} is on node ${found.node}, which is offline or unreachable, so its state is unknown and it cannot be reached. ` +
        `Bring ${found.node} back (check it with \`pvecm status\`), then try again.`,
      { details: { vmid, node: found.node, nodeOffline: true } },
    );
  }
  return { ...found };
}

/** Proxmox messages that mean the named config file is not on that node (a wrong `node` argument). */
export function isMissingConfig(error: unknown): boolean {
  return error instanceof ToolError && /Configuration file '.*' does not exist/i.test(error.message);
}

/** A clearer not_found when a caller-given node does not hold the guest. */
export function wrongNodeError(kind: GuestKind, vmid: number, node: string): ToolError {
  return new ToolError('not_found', `${kind.label} ${vmid} does not exist on node ${node}. Leave out "node" to find it on any node, or list the guests to check the id.`, {
    details: { vmid, node },
  });
}
