/**
 * HA as an admin reads it: the manager (master), quorum, each node's LRM, and every HA resource with its
 * node and state, from GET /cluster/ha/status/current plus the resources' config and the guests' names.
 * Placement speaks the cluster's version: HA groups on PVE 8, HA rules (node and resource affinity) on
 * PVE 9, where groups have been migrated to rules (the client's `version()` decides).
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';

export interface HaServiceRow {
  sid: string;
  vmid: number;
  type: 'vm' | 'ct';
  name?: string;
  node?: string;
  /** What the HA manager reports now (started, stopped, migrate, relocate, fence, error, freeze, ...). */
  state?: string;
  /** The requested state in resources.cfg (started, stopped, disabled, ignored). */
  request_state?: string;
  max_restart?: number;
  max_relocate?: number;
  group?: string;
  failback?: number;
  comment?: string;
  /** Placement rules (PVE 9) or the group (PVE 8) that bind it. */
  placement?: string[];
}

export interface HaOverview {
  pve_major: number;
  placement_kind: 'groups' | 'rules';
  quorum: { ok: boolean; node?: string; status?: string };
  manager: { node?: string; status?: string; active: boolean };
  fencing?: string;
  lrms: { node: string; status: string; active: boolean }[];
  resources: HaServiceRow[];
  problems: string[];
}

interface StatusEntry {
  id: string;
  type: string;
  node?: string;
  status?: string;
  quorate?: number;
  sid?: string;
  state?: string;
  crm_state?: string;
  request_state?: string;
  'armed-state'?: string;
}

export interface HaPlacement {
  name: string;
  kind: 'group' | 'node-affinity' | 'resource-affinity';
  nodes?: string;
  resources?: string[];
  strict?: boolean;
  restricted?: boolean;
  nofailback?: boolean;
  affinity?: string;
  disabled?: boolean;
  comment?: string;
}

export async function placementKind(pve: PveClient, signal?: AbortSignal): Promise<{ major: number; kind: 'groups' | 'rules' }> {
  const { major } = await pve.version({ signal });
  return { major, kind: major >= 9 ? 'rules' : 'groups' };
}

/** HA groups (PVE 8) or rules (PVE 9) as one shape. */
export async function readPlacement(pve: PveClient, signal?: AbortSignal): Promise<{ kind: 'groups' | 'rules'; rows: HaPlacement[] }> {
  const { kind } = await placementKind(pve, signal);
  if (kind === 'groups') {
    const groups = await pve.get<Record<string, unknown>[]>('/cluster/ha/groups', undefined, { signal });
    return {
      kind,
      rows: groups.map((g) => ({
        name: String(g.group), kind: 'group', nodes: String(g.nodes ?? ''),
        restricted: Number(g.restricted ?? 0) === 1, nofailback: Number(g.nofailback ?? 0) === 1,
        ...(g.comment ? { comment: String(g.comment) } : {}),
      })),
    };
  }
  const rules = await pve.get<Record<string, unknown>[]>('/cluster/ha/rules', undefined, { signal });
  return {
    kind,
    rows: rules.map((r) => ({
      name: String(r.rule), kind: r.type === 'resource-affinity' ? 'resource-affinity' : 'node-affinity',
      resources: String(r.resources ?? '').split(',').filter(Boolean),
      ...(r.nodes !== undefined ? { nodes: String(r.nodes) } : {}),
      ...(r.type === 'node-affinity' ? { strict: Number(r.strict ?? 0) === 1 } : {}),
      ...(r.affinity !== undefined ? { affinity: String(r.affinity) } : {}),
      ...(Number(r.disable ?? 0) === 1 ? { disabled: true } : {}),
      ...(r.comment ? { comment: String(r.comment) } : {}),
    })),
  };
}

const active = (status: string | undefined) => typeof status === 'string' && /\(active\b/.test(status);

export async function haOverview(pve: PveClient, signal?: AbortSignal): Promise<HaOverview> {
  const { major, kind } = await placementKind(pve, signal);
  const [status, resources, guests, placement] = await Promise.all([
    pve.get<StatusEntry[]>('/cluster/ha/status/current', undefined, { signal }),
    pve.get<Record<string, unknown>[]>('/cluster/ha/resources', undefined, { signal }),
    pve.clusterResources('vm', { signal }).catch(() => []),
    readPlacement(pve, signal).catch(() => ({ kind, rows: [] as HaPlacement[] })),
  ]);
  const names = new Map(guests.map((g) => [Number(g.vmid), typeof g.name === 'string' ? g.name : undefined]));
  const quorumEntry = status.find((e) => e.type === 'quorum');
  const master = status.find((e) => e.type === 'master');
  const fencing = status.find((e) => e.type === 'fencing');
  const lrms = status.filter((e) => e.type === 'lrm').map((e) => ({ node: String(e.node ?? e.id.replace(/^lrm:/, '')), status: String(e.status ?? ''), active: active(e.status) }));
  const services = new Map(status.filter((e) => e.type === 'service' && e.sid).map((e) => [String(e.sid), e]));
  const rows: HaServiceRow[] = resources.map((r) => {
    const sid = String(r.sid);
    const entry = services.get(sid);
    const vmid = Number(sid.split(':')[1]);
    const binds = placement.rows.filter((p) => (p.kind === 'group' ? r.group === p.name : p.resources?.includes(sid))).map((p) => p.name);
    return {
      sid, vmid, type: String(r.type ?? sid.split(':')[0]) as 'vm' | 'ct',
      ...(names.get(vmid) ? { name: names.get(vmid) } : {}),
      ...(entry?.node ? { node: entry.node } : {}),
      ...(entry?.crm_state ?? entry?.state ? { state: String(entry?.crm_state ?? entry?.state) } : {}),
      request_state: String(r.state ?? 'started'),
      ...(r.max_restart !== undefined ? { max_restart: Number(r.max_restart) } : {}),
      ...(r.max_relocate !== undefined ? { max_relocate: Number(r.max_relocate) } : {}),
      ...(r.group ? { group: String(r.group) } : {}),
      ...(r.failback !== undefined ? { failback: Number(r.failback) } : {}),
      ...(r.comment ? { comment: String(r.comment) } : {}),
      ...(binds.length ? { placement: binds } : {}),
    };
  });
  const problems: string[] = [];
  const quorate = Number(quorumEntry?.quorate ?? 0) === 1;
  if (!quorate) problems.push('The cluster is not quorate: HA cannot start, stop or move anything until quorum returns.');
  if (!master || !active(master.status)) problems.push(`The HA manager (CRM master) is not active${master?.status ? ` (${master.status})` : ''}.`);
  for (const lrm of lrms) if (!lrm.active && rows.some((r) => r.node === lrm.node)) problems.push(`The LRM on ${lrm.node} is not active (${lrm.status}); its HA guests may be fenced and recovered elsewhere.`);
  for (const r of rows) if (r.state && /error|fence|recovery/.test(r.state)) problems.push(`${r.sid}${r.name ? ` (${r.name})` : ''} is in HA state '${r.state}'.`);
  return {
    pve_major: major,
    placement_kind: kind,
    quorum: { ok: quorate, ...(quorumEntry?.node ? { node: quorumEntry.node } : {}), ...(quorumEntry?.status ? { status: quorumEntry.status } : {}) },
    manager: { ...(master?.node ? { node: master.node } : {}), ...(master?.status ? { status: master.status } : {}), active: active(master?.status) },
    ...(fencing ? { fencing: String(fencing['armed-state'] ?? fencing.status ?? '') } : {}),
    lrms,
    resources: rows,
    problems,
  };
}

/** `vm:101` / `ct:102` for a guest id, from the cluster's own list (refused when the guest does not exist). */
export async function sidOf(pve: PveClient, vmid: number, signal?: AbortSignal): Promise<{ sid: string; node: string; name?: string }> {
  const where = await pve.locateGuest(vmid, { signal });
  return { sid: `${where.type === 'qemu' ? 'vm' : 'ct'}:${vmid}`, node: where.node, ...(where.name ? { name: where.name } : {}) };
}

export function notManaged(sid: string, managed: string[]): ToolError {
  return new ToolError('not_found', `${sid} is not managed by HA. HA resources: ${managed.join(', ') || 'none'}. Add it first (ha_change action add).`, { details: { sid, resources: managed } });
}
