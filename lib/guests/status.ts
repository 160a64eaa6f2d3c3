/**
 * One guest in depth, for vm_status and container_status. Request budget (the benchmark counts them):
 * the default call makes at most 3: the guest's node from /cluster/resources (cached and shared with
 * the listings; skipped when the caller gives `node`), then status/current and config in parallel.
 * Extras only when asked with `include`, all in parallel with the first two: ips (+1: agent
 * network-get-interfaces for VMs, /interfaces for containers), snapshots (+1), backup (+1 per backup
 * storage; the storage list comes from the cached /cluster/resources?type=storage).
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import { bool, num } from '../pve/parse.ts';
import { nodeName, vmid } from '../schemas.ts';
import type { PveClient } from '../pve/types.ts';
import { agentFix, agentProblem } from './agent.ts';
import { backupSchema, findLastBackup, type BackupLookup } from './backups.ts';
import { guestPath, isMissingConfig, locate, wrongNodeError, type GuestKind } from './kinds.ts';
import { splitTags } from './props.ts';
import { configSummarySchema, summarizeConfig, type GuestConfig } from './summary.ts';

const includeValues = ['ips', 'snapshots', 'backup', 'all'] as const;

export const statusInput = z.object({
  vmid,
  node: nodeName.optional(),
  include: z
    .array(z.enum(includeValues))
    .default([])
    .describe('Extras, each costs requests'),
});

export type StatusInput = z.output<typeof statusInput>;

const interfaceSchema = z.object({ name: z.string(), mac: z.string().optional(), ipv4: z.array(z.string()), ipv6: z.array(z.string()) });
const snapshotSchema = z.object({ name: z.string(), created: z.string().optional(), description: z.string().optional(), parent: z.string().optional(), vmstate: z.boolean().optional() });

export const statusOutput = z.object({
  vmid: z.number(),
  type: z.enum(['qemu', 'lxc']),
  name: z.string().optional(),
  node: z.string(),
  status: z.string().describe('running or stopped'),
  qmpstatus: z.string().optional().describe('VMs: the QEMU run state (running, paused, ...)'),
  uptime: z.number().optional().describe('seconds'),
  cpu_percent: z.number().optional(),
  cpus: z.number().optional(),
  mem: z.number().optional().describe('bytes'),
  maxmem: z.number().optional().describe('bytes'),
  ha_managed: z.boolean(),
  lock: z.string().optional(),
  template: z.boolean(),
  tags: z.array(z.string()),
  config: configSummarySchema,
  digest: z.string().optional(),
  interfaces: z.array(interfaceSchema).optional().describe('With include ips: addresses seen inside the guest'),
  ips: z.array(z.string()).optional().describe('With include ips: every non-loopback address, for convenience'),
  snapshots: z.array(snapshotSchema).optional(),
  current_snapshot_parent: z.string().optional(),
  last_backup: backupSchema.nullable().optional().describe('With include backup: the newest vzdump backup, or null when there is none'),
  backup_storages_checked: z.array(z.string()).optional(),
  notes: z.array(z.string()).describe('What could not be shown and why (agent not running, ...)'),
});

export type StatusOutput = z.output<typeof statusOutput>;

interface Interfaces {
  interfaces: z.output<typeof interfaceSchema>[];
}

async function qemuInterfaces(pve: PveClient, node: string, id: number, signal?: AbortSignal): Promise<Interfaces> {
  const answer = await pve.get<{ result?: unknown }>(guestPath(node, 'qemu', id, '/agent/network-get-interfaces'), undefined, { signal });
  const list = Array.isArray(answer?.result) ? (answer.result as Record<string, unknown>[]) : [];
  const interfaces = list
    .filter((item) => item.name !== 'lo' && item['hardware-address'] !== '00:00:00:00:00:00')
    .map((item) => {
      const addresses = Array.isArray(item['ip-addresses']) ? (item['ip-addresses'] as Record<string, unknown>[]) : [];
      const pick = (family: string) => addresses.filter((a) => a['ip-address-type'] === family).map((a) => `${String(a['ip-address'])}${a.prefix !== undefined ? `/${String(a.prefix)}` : ''}`);
      return { name: String(item.name ?? ''), ...(typeof item['hardware-address'] === 'string' ? { mac: item['hardware-address'].toUpperCase() } : {}), ipv4: pick('ipv4'), ipv6: pick('ipv6') };
    });
  return { interfaces };
}

async function lxcInterfaces(pve: PveClient, node: string, id: number, signal?: AbortSignal): Promise<Interfaces> {
  const list = await pve.get<Record<string, unknown>[] | null>(guestPath(node, 'lxc', id, '/interfaces'), undefined, { signal });
  // pve-container answers null (not an error) when the container is not running
  if (list === null) throw new ToolError('conflict', `CT ${id} is not running, so it has no addresses to read.`);
  const interfaces = (Array.isArray(list) ? list : [])
    .filter((item) => item.name !== 'lo')
    .map((item) => ({
      name: String(item.name ?? ''),
      ...(typeof item.hwaddr === 'string' && item.hwaddr ? { mac: item.hwaddr.toUpperCase() } : {}),
      ipv4: typeof item.inet === 'string' && item.inet ? [item.inet] : [],
      ipv6: typeof item.inet6 === 'string' && item.inet6 ? [item.inet6] : [],
    }));
  return { interfaces };
}

/** Swallow an optional extra's failure into a note, so the main answer still comes back. */
async function optional<T>(work: Promise<T>, onError: (error: unknown) => string, notes: string[]): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    notes.push(onError(error));
    return undefined;
  }
}

export async function guestStatus(pve: PveClient, kind: GuestKind, input: StatusInput, signal?: AbortSignal): Promise<{ data: StatusOutput; suggestions: string[] }> {
  const where = await locate(pve, input.vmid, kind, { node: input.node, signal });
  const { node } = where;
  const id = input.vmid;
  const want = new Set(input.include.includes('all') ? ['ips', 'snapshots', 'backup'] : input.include);
  const notes: string[] = [];

  const statusCall = pve.get<Record<string, unknown>>(guestPath(node, kind.type, id, '/status/current'), undefined, { signal });
  const configCall = pve.get<GuestConfig>(guestPath(node, kind.type, id, '/config'), undefined, { signal });
  const ipsCall = want.has('ips')
    ? optional(
        kind.type === 'qemu' ? qemuInterfaces(pve, node, id, signal) : lxcInterfaces(pve, node, id, signal),
        (error) => {
          const problem = kind.type === 'qemu' ? agentProblem(error) : undefined;
          if (problem) return `No IP addresses: ${agentFix(problem, id)}`;
          return `No IP addresses: ${error instanceof ToolError ? error.message : String(error)}`;
        },
        notes,
      )
    : Promise.resolve(undefined);
  const snapshotsCall = want.has('snapshots')
    ? optional(pve.get<Record<string, unknown>[]>(guestPath(node, kind.type, id, '/snapshot'), undefined, { signal }), (error) => `Snapshots could not be read: ${(error as Error).message}`, notes)
    : Promise.resolve(undefined);
  const backupCall: Promise<BackupLookup | undefined> = want.has('backup')
    ? optional(findLastBackup(pve, id, node, signal), (error) => `Backups could not be checked: ${(error as Error).message}`, notes)
    : Promise.resolve(undefined);

  let status: Record<string, unknown>;
  let config: GuestConfig;
  try {
    [status, config] = await Promise.all([statusCall, configCall]);
  } catch (error) {
    // the extras' failures are already notes; do not leave their promises unhandled
    await Promise.allSettled([ipsCall, snapshotsCall, backupCall]);
    if (input.node && isMissingConfig(error)) throw wrongNodeError(kind, id, input.node);
    throw error;
  }
  const [ips, snapshots, backups] = await Promise.all([ipsCall, snapshotsCall, backupCall]);

  const summary = summarizeConfig(config, kind.type);
  const running = status.status === 'running';
  const cpu = num(status.cpu);
  const ha = status.ha && typeof status.ha === 'object' ? (status.ha as Record<string, unknown>) : undefined;
  const data: StatusOutput = {
    vmid: id,
    type: kind.type,
    name: summary.name ?? (typeof status.name === 'string' ? status.name : undefined),
    node,
    status: String(status.status ?? 'unknown'),
    ...(typeof status.qmpstatus === 'string' ? { qmpstatus: status.qmpstatus } : {}),
    ...(running && num(status.uptime) !== undefined ? { uptime: num(status.uptime) } : {}),
    ...(running && cpu !== undefined ? { cpu_percent: Math.round(cpu * 1000) / 10 } : {}),
    ...(num(status.cpus) !== undefined ? { cpus: num(status.cpus) } : {}),
    ...(running && num(status.mem) !== undefined ? { mem: num(status.mem) } : {}),
    ...(num(status.maxmem) !== undefined ? { maxmem: num(status.maxmem) } : {}),
    ha_managed: bool(ha?.managed, false),
    ...(typeof status.lock === 'string' || summary.lock ? { lock: String(status.lock ?? summary.lock) } : {}),
    template: summary.template || bool(status.template, false),
    tags: summary.tags.length ? summary.tags : splitTags(status.tags),
    config: summary,
    ...(typeof config.digest === 'string' ? { digest: config.digest } : {}),
    notes,
  };
  if (ips) {
    data.interfaces = ips.interfaces;
    data.ips = ips.interfaces.flatMap((iface) => [...iface.ipv4, ...iface.ipv6]).filter((ip) => !/^fe80:/i.test(ip));
  }
  if (snapshots) {
    data.snapshots = snapshots
      .filter((snap) => snap.name !== 'current')
      .map((snap) => ({
        name: String(snap.name),
        ...(num(snap.snaptime) !== undefined ? { created: new Date(num(snap.snaptime)! * 1000).toISOString() } : {}),
        ...(typeof snap.description === 'string' && snap.description ? { description: snap.description.trim() } : {}),
        ...(typeof snap.parent === 'string' ? { parent: snap.parent } : {}),
        ...(snap.vmstate !== undefined ? { vmstate: bool(snap.vmstate, false) } : {}),
      }));
    const current = snapshots.find((snap) => snap.name === 'current');
    if (current && typeof current.parent === 'string') data.current_snapshot_parent = current.parent;
  }
  if (backups) {
    data.last_backup = backups.last;
    data.backup_storages_checked = backups.storages;
    for (const problem of backups.problems) notes.push(`Backup storage not readable: ${problem}`);
  }

  const suggestions: string[] = [];
  if (kind.type === 'qemu' && running && summary.agent && !want.has('ips')) suggestions.push(`Add include: ["ips"] to see the addresses the guest agent reports.`);
  if (kind.type === 'lxc' && running && !want.has('ips')) suggestions.push(`Add include: ["ips"] to see the container's addresses.`);
  if (kind.type === 'qemu' && !summary.agent && want.has('ips')) suggestions.push(agentFix('not_configured', id));
  if (!want.has('backup')) suggestions.push('Add include: ["backup"] (or "all") to see the newest backup and its age.');
  else if (data.last_backup === null) suggestions.push(`No backup found: make one before risky changes (vzdump ${id} --storage <backup storage>).`);
  return { data, suggestions };
}

export function statusSummary(kind: GuestKind, data: StatusOutput): string {
  const parts = [`${kind.label} ${data.vmid}${data.name ? ` (${data.name})` : ''} on ${data.node}: ${data.status}${data.qmpstatus && data.qmpstatus !== data.status ? ` (${data.qmpstatus})` : ''}`];
  const c = data.config;
  parts.push(`${kind.type === 'qemu' ? `${c.vcpus_total ?? c.cores} vCPU` : `${c.cores ?? 'all'} cores`}, ${c.memory_mib} MiB`);
  if (data.ips?.length) parts.push(`IPs ${data.ips.join(', ')}`);
  if (data.last_backup) parts.push(`last backup ${Math.round(data.last_backup.age_hours)} h ago`);
  else if (data.last_backup === null) parts.push('no backup');
  return parts.join('; ');
}
