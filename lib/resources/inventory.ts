/**
 * proxmox://cluster/inventory: nodes, guests and storages in one compact JSON document, from a single
 * GET /cluster/resources (cached a few seconds by the client), so it is cheap to @-mention.
 */
import type { ClusterResource, PveClient } from '../pve/types.ts';
import { compact, gib, percent } from './common.ts';

export const inventoryUri = 'proxmox://cluster/inventory';

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
    guests,
    storages,
    next: [
      'proxmox://nodes/{node}/status for one node in detail',
      'proxmox://guests/{node}/{vmid}/config for a guest\'s configuration',
    ],
  };
}
