/**
 * Ceph, SDN and replication as an admin reads them: what `pveceph status` shows (health and its checks,
 * monitors, OSDs up/in, PGs, use) with each OSD and pool; SDN zones, vnets and subnets with what is
 * pending; every replication job with its last result. Each part says what is wrong in plain words.
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';

const pct = (value: number) => Math.round(value * 1000) / 10;

export interface CephReport {
  installed: boolean;
  health?: string;
  checks?: { check: string; severity: string; message: string }[];
  monitors?: number;
  quorum?: string[];
  osds?: { total: number; up: number; in: number; list: { id: number; host: string; status: string; in: boolean; used_percent: number; class?: string }[] };
  pgs?: { total: number; by_state: Record<string, number> };
  usage?: { total: number; used: number; used_percent: number };
  pools?: { name: string; size: number; min_size: number; pg_num: number; used: number; used_percent: number }[];
  problems: string[];
}

interface OsdNode { id?: number; name?: string; type?: string; host?: string; status?: string; in?: number; percent_used?: number; device_class?: string; children?: OsdNode[] }

function osdLeaves(node: OsdNode | undefined, host?: string): OsdNode[] {
  if (!node) return [];
  if (node.type === 'osd') return [{ ...node, host: node.host ?? host }];
  return (node.children ?? []).flatMap((child) => osdLeaves(child, node.type === 'host' ? node.name : host));
}

export async function readCeph(pve: PveClient, node: string, signal?: AbortSignal): Promise<CephReport> {
  let status: Record<string, any>;
  try {
    status = await pve.get<Record<string, any>>('/cluster/ceph/status', undefined, { signal });
  } catch (error) {
    if (error instanceof ToolError && /not installed|not initialized|no such file|rados_connect/i.test(error.message)) return { installed: false, problems: [] };
    throw error;
  }
  const [tree, pools] = await Promise.all([
    pve.get<{ root?: OsdNode }>(`/nodes/${encodeURIComponent(node)}/ceph/osd`, undefined, { signal }),
    pve.get<Record<string, any>[]>(`/nodes/${encodeURIComponent(node)}/ceph/pool`, undefined, { signal }),
  ]);
  const checks = Object.entries((status.health?.checks ?? {}) as Record<string, { severity?: string; summary?: { message?: string } }>).map(([check, c]) => ({ check, severity: String(c.severity ?? ''), message: String(c.summary?.message ?? '') }));
  const osds = osdLeaves(tree.root).map((o) => ({ id: Number(o.id), host: String(o.host ?? ''), status: String(o.status ?? 'unknown'), in: Number(o.in ?? 0) === 1, used_percent: Math.round(Number(o.percent_used ?? 0) * 10) / 10, ...(o.device_class ? { class: o.device_class } : {}) }));
  const pgmap = status.pgmap ?? {};
  const byState: Record<string, number> = {};
  for (const s of (pgmap.pgs_by_state ?? []) as { state_name: string; count: number }[]) byState[s.state_name] = s.count;
  const total = Number(pgmap.bytes_total ?? 0);
  const used = Number(pgmap.bytes_used ?? 0);
  const poolRows = pools.map((p) => ({ name: String(p.pool_name), size: Number(p.size), min_size: Number(p.min_size), pg_num: Number(p.pg_num), used: Number(p.bytes_used ?? 0), used_percent: pct(Number(p.percent_used ?? 0)) }));
  const problems: string[] = [];
  if (status.health?.status && status.health.status !== 'HEALTH_OK') problems.push(`Ceph is ${status.health.status}: ${checks.map((c) => c.message).join('; ') || 'see ceph health detail'}.`);
  for (const o of osds) if (o.status !== 'up' || !o.in) problems.push(`osd.${o.id} on ${o.host} is ${o.status}${o.in ? '' : ' and out'}.`);
  for (const o of osds) if (o.used_percent >= 85) problems.push(`osd.${o.id} is ${o.used_percent}% full (nearfull at 85%).`);
  for (const p of poolRows) {
    if (p.size < 3 && p.name !== '.mgr') problems.push(`Pool ${p.name} keeps ${p.size} copies${p.min_size < 2 ? ` and accepts writes with ${p.min_size}` : ''}: one failure from data loss (size 3, min_size 2 is the safe default).`);
    if (p.used_percent >= 80) problems.push(`Pool ${p.name} is ${p.used_percent}% full.`);
  }
  const numMons = Number(status.monmap?.num_mons ?? (status.monmap?.mons ?? []).length);
  if (numMons > 0 && numMons < 3) problems.push(`Only ${numMons} Ceph monitor(s): three keep quorum through one failure.`);
  return {
    installed: true,
    health: String(status.health?.status ?? 'unknown'),
    checks,
    monitors: numMons,
    quorum: (status.quorum_names ?? []) as string[],
    osds: { total: Number(status.osdmap?.num_osds ?? osds.length), up: Number(status.osdmap?.num_up_osds ?? 0), in: Number(status.osdmap?.num_in_osds ?? 0), list: osds },
    pgs: { total: Number(pgmap.num_pgs ?? 0), by_state: byState },
    usage: { total, used, used_percent: total ? pct(used / total) : 0 },
    pools: poolRows,
    problems,
  };
}

export interface SdnReport {
  zones: Record<string, unknown>[];
  vnets: Record<string, unknown>[];
  subnets: Record<string, unknown>[];
  pending: string[];
}

export async function readSdn(pve: PveClient, signal?: AbortSignal): Promise<SdnReport> {
  const strip = ({ digest: _d, ...rest }: Record<string, unknown>) => rest;
  const [zones, vnets] = await Promise.all([
    pve.get<Record<string, unknown>[]>('/cluster/sdn/zones', { pending: 1 }, { signal }),
    pve.get<Record<string, unknown>[]>('/cluster/sdn/vnets', { pending: 1 }, { signal }),
  ]);
  const subnets = (await Promise.all(vnets.map((v) => pve.get<Record<string, unknown>[]>(`/cluster/sdn/vnets/${encodeURIComponent(String(v.vnet))}/subnets`, { pending: 1 }, { signal })))).flat();
  const pending: string[] = [];
  for (const [kind, rows, key] of [['zone', zones, 'zone'], ['vnet', vnets, 'vnet'], ['subnet', subnets, 'subnet']] as const) {
    for (const row of rows) if (row.state) pending.push(`${kind} ${row[key]}: ${row.state}${row.pending && typeof row.pending === 'object' ? ` (${Object.entries(row.pending as Record<string, unknown>).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`);
  }
  return { zones: zones.map(strip), vnets: vnets.map(strip), subnets: subnets.map(strip), pending };
}

export interface ReplicationRow {
  id: string;
  guest: number;
  source: string;
  target: string;
  schedule: string;
  last_sync?: string;
  next_sync?: string;
  duration_seconds?: number;
  fail_count?: number;
  error?: string;
  state: 'ok' | 'failing' | 'unknown';
}

export async function readReplication(pve: PveClient, onlineNodes: string[], signal?: AbortSignal): Promise<{ jobs: ReplicationRow[]; problems: string[] }> {
  const jobs = await pve.get<Record<string, unknown>[]>('/cluster/replication', undefined, { signal });
  const sources = [...new Set(jobs.map((j) => String(j.source ?? '')).filter((n) => onlineNodes.includes(n)))];
  const statuses = (await Promise.all(sources.map((n) => pve.get<Record<string, unknown>[]>(`/nodes/${encodeURIComponent(n)}/replication`, undefined, { signal })))).flat();
  const byId = new Map(statuses.map((s) => [String(s.id), s]));
  const iso = (v: unknown) => (typeof v === 'number' && v > 0 ? new Date(v * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined);
  const rows: ReplicationRow[] = jobs.map((j) => {
    const s = byId.get(String(j.id));
    const failCount = s ? Number(s.fail_count ?? 0) : undefined;
    return {
      id: String(j.id), guest: Number(j.guest), source: String(j.source ?? ''), target: String(j.target), schedule: String(j.schedule ?? '*/15'),
      ...(s ? { last_sync: iso(s.last_sync), next_sync: iso(s.next_sync), duration_seconds: Number(s.duration ?? 0), fail_count: failCount } : {}),
      ...(s?.error ? { error: String(s.error) } : {}),
      state: !s ? 'unknown' : failCount ? 'failing' : 'ok',
    };
  });
  const problems = rows.filter((r) => r.state !== 'ok').map((r) => (r.state === 'failing' ? `Replication ${r.id} (guest ${r.guest} to ${r.target}) failed ${r.fail_count} time(s) since ${r.last_sync ?? 'ever'}: ${r.error ?? 'see the job log'}.` : `Replication ${r.id}: its source node ${r.source || '?'} did not answer.`));
  return { jobs: rows, problems };
}
