/** Live-looking numbers for guests, nodes and storages, derived from state (stable between calls). */
import type { SimCore } from './core.ts';
import { guestCpus, guestDiskBytes, guestMemoryBytes, parseDisk, volumesOf } from './state.ts';
import type { SimGuest, SimNode, SimStorage } from './state.ts';

export function guestUptime(g: SimGuest, now: number): number {
  return g.status === 'running' && g.startedAt !== undefined ? Math.max(0, Math.floor((now - g.startedAt) / 1000)) : 0;
}

export function guestStats(g: SimGuest, now: number): Record<string, number> {
  const running = g.status === 'running';
  const uptime = guestUptime(g, now);
  const maxmem = guestMemoryBytes(g);
  const maxdisk = guestDiskBytes(g);
  return {
    uptime,
    cpu: running ? Math.round(g.cpuLoad * 10000) / 10000 : 0,
    maxcpu: guestCpus(g),
    mem: running ? Math.floor(maxmem * g.memFraction) : 0,
    maxmem,
    disk: g.type === 'lxc' && running ? Math.floor(maxdisk * 0.3) : 0,
    maxdisk,
    netin: running ? uptime * 1200 + g.vmid : 0,
    netout: running ? uptime * 800 + g.vmid : 0,
    diskread: running ? uptime * 4096 : 0,
    diskwrite: running ? uptime * 2048 : 0,
  };
}

export function nodeStats(n: SimNode, now: number): Record<string, number> {
  return {
    uptime: Math.max(0, Math.floor(now / 1000) - n.bootTime),
    cpu: Math.round(n.load * 10000) / 10000,
    maxcpu: n.cpus,
    mem: Math.floor(n.memTotal * n.memUsedFraction),
    maxmem: n.memTotal,
    disk: n.rootUsed,
    maxdisk: n.rootTotal,
  };
}

/** Bytes used on a storage as seen from one node (node-local storages count that node's guests only). */
export function storageUsage(core: SimCore, storage: SimStorage, node: string, diskUse?: Map<string, number>): { total: number; used: number; avail: number } {
  let used = 0;
  for (const v of volumesOf(core.state, storage, node).values()) used += v.size;
  if (storage.content.includes('images') || storage.content.includes('rootdir')) {
    used += diskUse ? diskUse.get(`${node}/${storage.storage}`) ?? 0 : diskUsageByNodeStorage(core).get(`${node}/${storage.storage}`) ?? 0;
  }
  if (storage.storage === 'local') used += 6 * 1024 ** 3;
  const total = storage.total;
  used = Math.min(used, total);
  return { total, used, avail: total - used };
}

/** One pass over all guests: bytes allocated per `<node>/<storage>`. */
export function diskUsageByNodeStorage(core: SimCore): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of core.state.guests.values()) {
    for (const [k, v] of Object.entries(g.config)) {
      if (!/^(scsi|virtio|sata|ide|efidisk|tpmstate|mp|unused)\d+$|^rootfs$/.test(k)) continue;
      const d = parseDisk(String(v));
      if (!d) continue;
      const key = `${g.node}/${d.volid.slice(0, d.volid.indexOf(':'))}`;
      out.set(key, (out.get(key) ?? 0) + d.size);
    }
  }
  return out;
}
