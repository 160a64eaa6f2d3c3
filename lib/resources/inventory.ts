/**
 * proxmox://cluster/inventory: nodes, guests and storages in one compact JSON document, from a single
 * GET /cluster/resources (cached a few seconds by the client), so it is cheap to @-mention.
 */
import type { ClusterResource, PveClient } from '../pve/types.ts';
import { compact, gib, percent } from './common.ts';

export const inventoryUri = 'proxmox://cluster/inventory';

/** Up to this many guests the inventory lists each; above, it counts them per node. */
export const inventoryGuestLimit = 200;

function nodeOf(row: ClusterResource): string {
  return String(row.node ?? row.id.replace(/^node\//, ''));
}

export async function readInventory(pve: PveClient) {
  const rows = await pve.clusterResources();
  const nodes = rows
    .filter((row) => row.type === 'node')
    .map((row) =>
      compact({
        node: nodeOf(row),
        status: row.status,
        cpu_percent: row.status === 'online' ? percent(row.cpu, 1) : undefined,
        cores: row.maxcpu,
        mem_percent: percent(row.mem, row.maxmem),
        mem_gib: gib(row.maxmem),
        uptime_s: row.uptime,
      }),
    )
    .sort((a, b) => String(a.node).localeCompare(String(b.node)));
  const guests = rows
    .filter((row) => row.type === 'qemu' || row.type === 'lxc')
    .map((row) =>
      compact({
        vmid: row.vmid,
        name: row.name,
        type: row.type,
        node: row.node,
        status: row.status,
        template: row.template ? true : undefined,
        cores: row.maxcpu,
        mem_gib: gib(row.maxmem),
        disk_gib: gib(row.maxdisk),
        pool: row.pool,
        tags: row.tags,
        lock: row.lock,
        ha: row.hastate,
      }),
    )
    .sort((a, b) => Number(a.vmid) - Number(b.vmid));
  const storages = rows
    .filter((row) => row.type === 'storage')
    .map((row) =>
      compact({
        storage: row.storage,
        node: row.node,
        type: row.plugintype,
        status: row.status,
        shared: row.shared ? true : undefined,
        content: row.content,
        used_percent: percent(row.disk, row.maxdisk),
        size_gib: gib(row.maxdisk),
      }),
    )
    .sort((a, b) => `${a.storage}/${a.node}`.localeCompare(`${b.storage}/${b.node}`));
  const running = guests.filter((guest) => guest.status === 'running').length;
  // Past a few hundred guests the list would not fit an agent's context (issue 15): each node's
  // counts instead, and the list tools page through the guests.
  const brief = guests.length > inventoryGuestLimit;
  const byNode = new Map<string, { node: string; guests: number; running: number; mem_gib: number }>();
  if (brief) {
    for (const guest of guests) {
      const node = String(guest.node);
      const entry = byNode.get(node) ?? { node, guests: 0, running: 0, mem_gib: 0 };
      entry.guests++;
      if (guest.status === 'running') entry.running++;
      entry.mem_gib = Math.round((entry.mem_gib + Number(guest.mem_gib ?? 0)) * 10) / 10;
      byNode.set(node, entry);
    }
  }
  // A shared storage once, not once per node.
  const sharedSeen = new Set<string>();
  const storageRows = storages.filter((row) => {
    if (!row.shared) return true;
    if (sharedSeen.has(String(row.storage))) return false;
    sharedSeen.add(String(row.storage));
    return true;
  });
  return {
    generated_at: new Date().toISOString(),
    summary: {
      nodes: nodes.length,
      nodes_online: nodes.filter((node) => node.status === 'online').length,
      guests: guests.length,
      guests_running: running,
      storages: storages.length,
    },
    nodes,
    ...(brief
      ? { guests_by_node: [...byNode.values()].sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true })) }
      : { guests }),
    storages: storageRows.map((row) => (row.shared ? { ...row, node: undefined } : row)),
    next: [
      ...(brief ? [`${guests.length} guests are too many to list here: list_vms and list_containers sort and page them (sort: "-mem", cursor).`] : []),
      'proxmox://nodes/{node}/status for one node in detail',
      'proxmox://guests/{node}/{vmid}/config for a guest\'s configuration',
    ],
  };
}
