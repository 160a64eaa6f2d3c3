/**
 * proxmox://guests/{node}/{vmid}/config: a VM's or container's configuration with its secrets removed.
 * The guest is found through /cluster/resources first, so a wrong node or a missing guest is answered
 * with where it really is (or that it exists nowhere), never with a raw Proxmox 500.
 */
import { ToolError } from '../errors.ts';
import { isSecretName } from '../policy/secret-params.ts';
import type { PveClient } from '../pve/types.ts';
import { vmid as vmidSchema } from '../schemas.ts';
import { compact } from './common.ts';

export const guestConfigTemplate = 'proxmox://guests/{node}/{vmid}/config';

export function guestConfigUri(node: string, vmid: number): string {
  return `proxmox://guests/${encodeURIComponent(node)}/${vmid}/config`;
}

/**
 * Config keys whose values are secrets (the cloud-init password and whatever the shared rule in
 * lib/policy/secret-params.ts calls a secret: the official schema's names, then secret wording) are
 * removed and listed by name in `hidden`, so a reader knows they are set.
 */
export function redactConfig(config: Record<string, unknown>): { config: Record<string, unknown>; hidden: string[] } {
  const out: Record<string, unknown> = {};
  const hidden: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (isSecretName(key)) hidden.push(key);
    else out[key] = value;
  }
  return { config: out, hidden: hidden.sort() };
}

export function parseVmid(raw: unknown): number {
  const text = String(raw ?? '');
  const parsed = vmidSchema.safeParse(/^\d+$/.test(text) ? text : Number.NaN);
  if (!parsed.success) throw new ToolError('invalid_input', `'${text}' is not a guest id: ${parsed.error.issues[0]?.message ?? 'use a VMID such as 101'}.`);
  return parsed.data;
}

export async function readGuestConfig(pve: PveClient, node: string, vmid: number) {
  const guest = await pve.locateGuest(vmid);
  if (guest.node !== node) {
    throw new ToolError('not_found', `Guest ${vmid} is on node ${guest.node}, not ${node}. Read ${guestConfigUri(guest.node, vmid)} instead.`);
  }
  const raw = await pve.get<Record<string, unknown>>(`/nodes/${encodeURIComponent(node)}/${guest.type}/${vmid}/config`);
  const { digest: _digest, ...rest } = raw ?? {};
  const { config, hidden } = redactConfig(rest);
  return compact({
    vmid,
    node,
    type: guest.type,
    name: guest.name,
    status: guest.status,
    template: guest.template ? true : undefined,
    config,
    hidden: hidden.length ? hidden : undefined,
    cli: guest.type === 'qemu' ? `qm config ${vmid}` : `pct config ${vmid}`,
  });
}
