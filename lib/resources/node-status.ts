/**
 * proxmox://nodes/{node}/status: one node in detail (GET /nodes/{node}/status) with what runs there.
 * An unknown node is "not found" naming the nodes that exist; an offline node answers with what the
 * cluster still knows of it instead of failing.
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';
import { nodeName } from '../schemas.ts';
import { compact, gib, percent } from './common.ts';

export const nodeStatusTemplate = 'proxmox://nodes/{node}/status';

export function nodeStatusUri(node: string): string {
  return `proxmox://nodes/${encodeURIComponent(node)}/status`;
}

interface NodeStatusReply {
  uptime?: number;
  cpu?: number;
  wait?: number;
  loadavg?: string[];
  cpuinfo?: { model?: string; cpus?: number; sockets?: number };
  memory?: { total?: number; used?: number };
  swap?: { total?: number; used?: number };
  rootfs?: { total?: number; used?: number };
  pveversion?: string;
  kversion?: string;
  'boot-info'?: { mode?: string; secureboot?: number };
}

export function parseNode(raw: unknown): string {
  const text = decodeURIComponent(String(raw ?? ''));
  const parsed = nodeName.safeParse(text);
  if (!parsed.success) throw new ToolError('invalid_input', `'${text}' is not a node name: ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
  return parsed.data;
}

export async function readNodeStatus(pve: PveClient, node: string) {
  const rows = await pve.clusterResources();
  const nodeRow = rows.find((row) => row.type === 'node' && (row.node ?? row.id.replace(/^node\//, '')) === node);
  if (!nodeRow) {
    const known = rows.filter((row) => row.type === 'node').map((row) => String(row.node ?? row.id.replace(/^node\//, ''))).sort();
    throw new ToolError('not_found', `Node '${node}' is not in this cluster. Nodes: ${known.join(', ') || 'none visible'}. Read proxmox://cluster/inventory for the list.`);
  }
  const guests = rows
    .filter((row) => (row.type === 'qemu' || row.type === 'lxc') && row.node === node)
    .map((row) => compact({ vmid: row.vmid, name: row.name, type: row.type, status: row.status, template: row.template ? true : undefined, ha: row.hastate }))
    .sort((a, b) => Number(a.vmid) - Number(b.vmid));
  const storages = rows
    .filter((row) => row.type === 'storage' && row.node === node)
    .map((row) => compact({ storage: row.storage, type: row.plugintype, status: row.status, shared: row.shared ? true : undefined, used_percent: percent(row.disk, row.maxdisk), size_gib: gib(row.maxdisk) }));
  const base = {
    node,
    status: nodeRow.status,
    guests_running: guests.filter((guest) => guest.status === 'running').length,
    guests,
    storages,
  };
  if (nodeRow.status !== 'online') {
    return {
      ...base,
      note: `Node ${node} is ${nodeRow.status ?? 'not online'}: live status cannot be read. Check it with node_status, health_check, or on the host (pvecm status, systemctl status pve-cluster corosync).`,
    };
  }
  const s = await pve.get<NodeStatusReply>(`/nodes/${encodeURIComponent(node)}/status`);
  return {
    ...base,
    ...compact({
      uptime_s: s.uptime,
      cpu_percent: percent(s.cpu, 1),
      io_wait_percent: percent(s.wait, 1),
      loadavg: s.loadavg?.map(Number),
      cpu_model: s.cpuinfo?.model,
      cpus: s.cpuinfo?.cpus,
      sockets: s.cpuinfo?.sockets,
      mem_percent: percent(s.memory?.used, s.memory?.total),
      mem_gib: gib(s.memory?.total),
      swap_percent: percent(s.swap?.used, s.swap?.total),
      rootfs_percent: percent(s.rootfs?.used, s.rootfs?.total),
      rootfs_gib: gib(s.rootfs?.total),
      pve_version: s.pveversion,
      kernel: s.kversion,
      boot_mode: s['boot-info']?.mode,
    }),
  };
}
