/**
 * rrddata of nodes and guests, as pvestatd's RRD files give them: 70 rows a timeframe, one per step
 * (hour 1 min, day 30 min, week 3 h, month 12 h, year 1 week, decade 1 month), the row's time at the end of
 * its step; AVERAGE or MAX consolidation. Values are derived from the seed, the object and the time only,
 * so two calls agree and a test can rely on the shape: a daily wave, noise, and VM 101 busy every night
 * from 02:00 to 03:30 UTC (a backup-window-like peak the summary should find).
 */
import { die } from '../errors.ts';
import type { Handler, HandlerContext } from '../core.ts';
import { guestCpus, guestDiskBytes, guestMemoryBytes } from '../state.ts';
import { storageUsage } from '../metrics.ts';

const STEPS: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800, decade: 2592000 };
const ROWS = 70;

/** A stable number in [0, 1) from a few integers (xorshift-multiply hash). */
function noise(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h ^= Math.floor(p) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 0) / 2 ** 32;
}

/** Load in [0, 1] at time t (seconds) for object `id`: daily wave + noise + the nightly peak of VM 101. */
function load(seed: number, id: number, t: number, base: number, max: boolean): number {
  const hour = (t % 86400) / 3600;
  let value = base * (0.75 + 0.35 * Math.sin(((hour - 9) / 24) * 2 * Math.PI)) + 0.06 * noise(seed, id, t);
  if (id === 101 && hour >= 2 && hour < 3.5) value = Math.max(value, 0.82 + 0.1 * noise(seed, id, t, 7));
  if (max) value = Math.min(1, value * (1.15 + 0.2 * noise(seed, id, t, 3)));
  return Math.max(0, Math.min(1, value));
}

function times(ctx: HandlerContext): { step: number; rows: number[]; max: boolean } {
  const timeframe = String(ctx.params.timeframe);
  const step = STEPS[timeframe];
  if (!step) die(`unknown timeframe '${timeframe}'`);
  const last = Math.floor(ctx.now / 1000 / step) * step;
  const rows = Array.from({ length: ROWS }, (_, i) => last - (ROWS - 1 - i) * step);
  return { step, rows, max: ctx.params.cf === 'MAX' };
}

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

const nodeRrd: Handler = (ctx) => {
  const node = ctx.core.node(String(ctx.params.node));
  const { rows, max } = times(ctx);
  return rows.map((time) => {
    const cpu = load(ctx.core.state.seed, node.nodeid * 1000, time, node.load, max);
    const mem = Math.min(0.98, node.memUsedFraction * (0.9 + 0.2 * load(ctx.core.state.seed, node.nodeid * 1000 + 1, time, 0.5, max)));
    return {
      time, cpu: round(cpu), maxcpu: node.cpus, loadavg: round(cpu * node.cpus, 2), iowait: round(cpu * 0.05),
      memtotal: node.memTotal, memused: Math.floor(node.memTotal * mem), swaptotal: 8 * 1024 **3, swapused: Math.floor(64 * 1024 ** 2 * (1 + noise(node.nodeid, time))),
      roottotal: node.rootTotal, rootused: node.rootUsed,
      netin: round(2e5 + 8e6 * cpu * (0.5 + noise(node.nodeid, time, 1)), 2), netout: round(1e5 + 5e6 * cpu * (0.5 + noise(node.nodeid, time, 2)), 2),
    };
  });
};

function guestRrd(type: 'qemu' | 'lxc'): Handler {
  return (ctx) => {
    ctx.core.node(String(ctx.params.node));
    const vmid = Number(ctx.params.vmid);
    const g = ctx.core.guest(String(ctx.params.node), vmid, type);
    const { rows, max } = times(ctx);
    const maxmem = guestMemoryBytes(g);
    const maxdisk = guestDiskBytes(g);
    const running = g.status === 'running';
    return rows.map((time) => {
      // a stopped guest's rows carry its limits and zero use, as pvestatd writes them
      const cpu = running ? load(ctx.core.state.seed, vmid, time, Math.max(0.05, g.cpuLoad), max) : 0;
      const io = running ? cpu * (0.6 + noise(vmid, time, 5)) : 0;
      return {
        time, cpu: round(cpu), maxcpu: guestCpus(g),
        mem: running ? Math.floor(maxmem * Math.min(0.97, g.memFraction * (0.85 + 0.3 * cpu))) : 0, maxmem,
        disk: type === 'lxc' && running ? Math.floor(maxdisk * 0.3) : 0, maxdisk,
        diskread: round(io * 40e6, 2), diskwrite: round(io * 25e6, 2),
        netin: round(running ? 1e4 + cpu * 3e6 : 0, 2), netout: round(running ? 8e3 + cpu * 2e6 : 0, 2),
      };
    });
  };
}

/**
 * A storage's use (pvestatd's pve2-storage RRD: total and used), as seen from the node. The storage grew
 * to today's use over the timeframe (a slow climb with a little noise), so a summary finds a rising trend.
 */
const storageRrd: Handler = (ctx) => {
  const node = String(ctx.params.node);
  ctx.core.node(node);
  const storage = ctx.core.state.storages.get(String(ctx.params.storage));
  if (!storage) die(`storage '${ctx.params.storage}' does not exist`);
  const { total, used } = storageUsage(ctx.core, storage, node);
  const { rows } = times(ctx);
  return rows.map((time, i) => {
    const share = 0.8 + 0.2 * (i / (rows.length - 1)) - 0.01 * noise(ctx.core.state.seed, time, used % 997);
    return { time, total, used: Math.max(0, Math.floor(used * Math.min(1, share))) };
  });
};

export const rrdHandlers: Record<string, Handler> = {
  'GET /nodes/{node}/storage/{storage}/rrddata': storageRrd,
  'GET /nodes/{node}/rrddata': nodeRrd,
  'GET /nodes/{node}/qemu/{vmid}/rrddata': guestRrd('qemu'),
  'GET /nodes/{node}/lxc/{vmid}/rrddata': guestRrd('lxc'),
};
