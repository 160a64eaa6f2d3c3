/**
 * Ceph, SDN and storage replication, read first, as a cluster that uses them answers (the simulator's
 * `ceph`, `sdn` and `replication` options add them). Ceph after PVE::API2::Ceph (status, the OSD tree,
 * pools): without Ceph every call dies as check_ceph_installed does. SDN after PVE::API2::Network::SDN:
 * zones, vnets and subnets, with `pending=1` showing what is not applied yet (`state` new/changed/deleted
 * and the `pending` values); PUT /cluster/sdn applies it in a task. Replication after PVE::API2::Replication
 * and ReplicationConfig: the jobs, and each source node's status with the last sync and its error.
 */
import { die } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import type { SimState } from '../state.ts';

interface Osd { id: number; host: string; up: boolean; in: boolean; size: number; used: number; deviceClass: string }
interface Pool { name: string; size: number; minSize: number; pgNum: number; used: number; maxAvail: number }
interface SdnObject { values: Record<string, unknown>; pending?: Record<string, unknown>; state?: 'new' | 'changed' | 'deleted' }
interface ReplJob { id: string; guest: number; source: string; target: string; schedule: string; lastSync: number; failCount: number; error?: string; duration: number }

export interface SimInfra {
  ceph?: { fsid: string; osds: Osd[]; pools: Pool[] };
  sdn: { zones: Map<string, SdnObject>; vnets: Map<string, SdnObject>; subnets: Map<string, SdnObject> };
  replication: ReplJob[];
}

const infras = new WeakMap<SimState, SimInfra>();

export function infraOf(state: SimState): SimInfra {
  let infra = infras.get(state);
  if (!infra) infras.set(state, (infra = { sdn: { zones: new Map(), vnets: new Map(), subnets: new Map() }, replication: [] }));
  return infra;
}

const GIB = 1024 ** 3;

export function addInfra(state: SimState, what: { ceph?: boolean; sdn?: boolean; replication?: boolean }, nowSec: number): void {
  const infra = infraOf(state);
  const nodes = [...state.nodes.keys()];
  if (what.ceph) {
    const osds: Osd[] = nodes.flatMap((host, h) => [0, 1].map((i) => ({ id: h * 2 + i, host, up: !(h === nodes.length - 1 && i === 1), in: true, size: 1920 * GIB, used: Math.floor((0.42 + 0.05 * h + 0.02 * i) * 1920 * GIB), deviceClass: 'ssd' })));
    infra.ceph = {
      fsid: '6a1f3c2e-8d4b-4f7a-9e21-0c5d7b3a9f10',
      osds,
      pools: [
        { name: 'rbd-vm', size: 3, minSize: 2, pgNum: 128, used: 2400 * GIB, maxAvail: 950 * GIB },
        { name: '.mgr', size: 3, minSize: 2, pgNum: 1, used: 0.01 * GIB, maxAvail: 950 * GIB },
        { name: 'cephfs_data', size: 2, minSize: 1, pgNum: 32, used: 310 * GIB, maxAvail: 1400 * GIB },
      ],
    };
  }
  if (what.sdn) {
    infra.sdn.zones.set('evpnz', { values: { zone: 'evpnz', type: 'vxlan', peers: nodes.map((_, i) => `192.168.100.${11 + i}`).join(','), ipam: 'pve', mtu: 1450 } });
    infra.sdn.zones.set('lab', { values: { zone: 'lab', type: 'simple', ipam: 'pve' }, state: 'new', pending: { zone: 'lab', type: 'simple', ipam: 'pve', dhcp: 'dnsmasq' } });
    infra.sdn.vnets.set('vnet100', { values: { vnet: 'vnet100', zone: 'evpnz', tag: 100, alias: 'app tier' } });
    infra.sdn.vnets.set('vnet200', { values: { vnet: 'vnet200', zone: 'evpnz', tag: 200 }, state: 'changed', pending: { alias: 'db tier' } });
    infra.sdn.subnets.set('evpnz-10.10.0.0-24', { values: { subnet: 'evpnz-10.10.0.0-24', cidr: '10.10.0.0/24', network: '10.10.0.0', mask: '24', gateway: '10.10.0.1', vnet: 'vnet100', type: 'subnet', zone: 'evpnz', snat: 1 } });
  }
  if (what.replication) {
    const local = [...state.guests.values()].filter((g) => !g.config.template).slice(0, 3);
    local.forEach((g, i) => {
      const target = nodes[(nodes.indexOf(g.node) + 1) % nodes.length];
      infra.replication.push({ id: `${g.vmid}-0`, guest: g.vmid, source: g.node, target, schedule: '*/15', lastSync: nowSec - 300 - i * 60, failCount: i === 1 ? 3 : 0, duration: 4.2 + i, ...(i === 1 ? { error: `command 'zfs snapshot tank/vm-${g.vmid}-disk-0@__replicate_${g.vmid}-0_${nowSec}__' failed: exit code 1` } : {}) });
    });
  }
}

function ceph(ctx: HandlerContext) {
  const c = infraOf(ctx.core.state).ceph;
  if (!c) die('binary not installed: /usr/bin/ceph-mon');
  return c;
}

function sdnList(kind: 'zones' | 'vnets' | 'subnets', filter?: (o: SdnObject) => boolean): Handler {
  return (ctx) => {
    const pending = isTrue(ctx.params.pending);
    return [...infraOf(ctx.core.state).sdn[kind].values()]
      .filter((o) => (filter ? filter(o) : true))
      .filter((o) => ctx.params.type === undefined || o.values.type === ctx.params.type)
      .filter((o) => pending || o.state !== 'new')
      .map((o) => ({ ...o.values, digest: 'sdn0sdn0sdn0sdn0sdn0sdn0sdn0sdn0sdn0sdn0', ...(pending && o.state ? { state: o.state, ...(o.pending ? { pending: o.pending } : {}) } : {}) }));
  };
}

export const infraHandlers: Record<string, Handler> = {
  'GET /cluster/ceph/status': (ctx) => {
    const c = ceph(ctx);
    const down = c.osds.filter((o) => !o.up);
    const total = c.osds.reduce((s, o) => s + o.size, 0);
    const used = c.osds.reduce((s, o) => s + o.used, 0);
    const nodes = [...ctx.core.state.nodes.values()];
    const checks: Record<string, unknown> = {};
    if (down.length) {
      checks.OSD_DOWN = { severity: 'HEALTH_WARN', summary: { message: `${down.length} osds down`, count: down.length }, muted: false };
      checks.PG_DEGRADED = { severity: 'HEALTH_WARN', summary: { message: 'Degraded data redundancy: 1204/36120 objects degraded (3.333%), 21 pgs degraded, 21 pgs undersized', count: 21 }, muted: false };
    }
    return {
      fsid: c.fsid,
      health: { status: down.length ? 'HEALTH_WARN' : 'HEALTH_OK', checks, mutes: [] },
      monmap: { mons: nodes.map((n) => ({ name: n.name, addr: `${n.ip}:6789/0` })), num_mons: nodes.length },
      osdmap: { num_osds: c.osds.length, num_up_osds: c.osds.length - down.length, num_in_osds: c.osds.filter((o) => o.in).length, num_remapped_pgs: 0 },
      pgmap: {
        num_pgs: c.pools.reduce((s, p) => s + p.pgNum, 0),
        pgs_by_state: down.length ? [{ state_name: 'active+clean', count: 140 }, { state_name: 'active+undersized+degraded', count: 21 }] : [{ state_name: 'active+clean', count: 161 }],
        bytes_total: total, bytes_used: used, bytes_avail: total - used, data_bytes: Math.floor(used / 3),
      },
      quorum_names: nodes.filter((n) => n.online).map((n) => n.name),
    };
  },
  'GET /nodes/{node}/ceph/osd': (ctx) => {
    ctx.core.node(String(ctx.params.node));
    const c = ceph(ctx);
    const hosts = [...new Set(c.osds.map((o) => o.host))];
    return {
      root: {
        leaf: 0,
        children: [{
          id: -1, name: 'default', type: 'root', leaf: 0,
          children: hosts.map((host, h) => ({
            id: -2 - h, name: host, type: 'host', leaf: 0,
            children: c.osds.filter((o) => o.host === host).map((o) => ({
              id: o.id, name: `osd.${o.id}`, type: 'osd', leaf: 1, host, status: o.up ? 'up' : 'down', in: o.in ? 1 : 0, device_class: o.deviceClass,
              crush_weight: Math.round((o.size / 1024 ** 4) * 1000) / 1000, total_space: o.size, bytes_used: o.used, percent_used: Math.round((o.used / o.size) * 10000) / 100,
            })),
          })),
        }],
      },
      flags: 'sortbitwise,recovery_deletes,purged_snapdirs,pglog_hardlimit',
    };
  },
  'GET /nodes/{node}/ceph/pool': (ctx) => {
    ctx.core.node(String(ctx.params.node));
    return ceph(ctx).pools.map((p, i) => ({
      pool: i + 1, pool_name: p.name, size: p.size, min_size: p.minSize, pg_num: p.pgNum, pg_autoscale_mode: 'on', crush_rule: 0, crush_rule_name: 'replicated_rule', type: 'replicated',
      bytes_used: p.used, percent_used: p.used / (p.used + p.maxAvail),
    }));
  },

  'GET /cluster/sdn/zones': sdnList('zones'),
  'GET /cluster/sdn/vnets': sdnList('vnets'),
  'GET /cluster/sdn/vnets/{vnet}/subnets': (ctx) => {
    const vnet = String(ctx.params.vnet);
    if (!infraOf(ctx.core.state).sdn.vnets.has(vnet)) die(`vnet '${vnet}' does not exist`);
    return sdnList('subnets', (o) => o.values.vnet === vnet)(ctx);
  },
  'PUT /cluster/sdn': (ctx) => {
    const sdn = infraOf(ctx.core.state).sdn;
    const node = [...ctx.core.state.nodes.keys()][0];
    return ctx.core.task(ctx, {
      type: 'reloadnetworkall', node,
      work: () => {
        for (const map of [sdn.zones, sdn.vnets, sdn.subnets]) {
          for (const [key, o] of map) {
            if (o.state === 'deleted') map.delete(key);
            else if (o.state) map.set(key, { values: { ...o.values, ...(o.pending ?? {}) } });
          }
        }
        return ctx.core.state.nodes.size ? [...ctx.core.state.nodes.keys()].map((n) => `${n}: reloading network config`) : [];
      },
    });
  },

  'GET /cluster/replication': (ctx) =>
    infraOf(ctx.core.state).replication.map((j) => ({ id: j.id, type: 'local', guest: j.guest, target: j.target, schedule: j.schedule, source: j.source, jobnum: Number(j.id.split('-')[1]), digest: 'repl0repl0repl0repl0repl0repl0repl0repl0' })),
  'GET /nodes/{node}/replication': (ctx) => {
    const node = String(ctx.params.node);
    ctx.core.node(node);
    return infraOf(ctx.core.state).replication
      .filter((j) => j.source === node && (ctx.params.guest === undefined || j.guest === Number(ctx.params.guest)))
      .map((j) => ({
        id: j.id, guest: j.guest, target: j.target, type: 'local', jobnum: Number(j.id.split('-')[1]), schedule: j.schedule, vmtype: ctx.core.state.guests.get(j.guest)?.type ?? 'qemu',
        last_sync: j.failCount ? j.lastSync - 3600 : j.lastSync, last_try: j.lastSync, next_sync: j.lastSync + 900, duration: j.duration, fail_count: j.failCount,
        ...(j.error ? { error: j.error } : {}),
      }));
  },
};
