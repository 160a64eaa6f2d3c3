/**
 * What emptying a node for maintenance means for its HA guests, in the evacuate plan. Proxmox's API (8.4
 * and 9.1 alike) has no call for HA node maintenance (`ha-manager crm-command node-maintenance enable`
 * exists only on the host), so each HA-managed guest is moved through HA (POST
 * /cluster/ha/resources/{sid}/migrate): a plain migrate would be handed to the HA manager anyway, and HA
 * must know where the guest is meant to be. Per guest:
 * - requested state `ignored`: HA leaves it alone, the normal migration moves it;
 * - `disabled`: the HA manager does not move it (refused), so it is left on the node with the reason;
 * - `started`/`stopped`: through HA, to a node its placement allows (a restricted group on PVE 8, a strict
 *   node-affinity rule on PVE 9), and the plan says when HA would bring it straight back because its group
 *   or rule prefers this node and failback is on: only maintenance mode on the host keeps it away.
 */
import type { PveClient } from '../pve/types.ts';
import { placementKind, readPlacement, type HaPlacement } from './status.ts';

export interface HaRoute {
  sid: string;
  request_state: string;
  route: 'ha' | 'migrate' | 'blocked';
  /** Nodes its placement allows (strict rule or restricted group); undefined: any node. */
  allowed?: string[];
  /** Node priorities of its group or node-affinity rules (higher first in HA's choice). */
  priorities: Map<string, number>;
  /** The group or rules that place it. */
  placement: string[];
  failback: boolean;
  why?: string;
}

function priorities(nodes: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of String(nodes ?? '').split(/[,;\s]+/).filter(Boolean)) {
    const [name, prio] = item.split(':');
    out.set(name, prio === undefined ? 0 : Number(prio) || 0);
  }
  return out;
}

/** HA facts for the guests of `node` that HA manages (keyed by vmid); empty when HA manages none. */
export async function haRoutesFor(pve: PveClient, vmids: number[], signal?: AbortSignal): Promise<Map<number, HaRoute>> {
  const out = new Map<number, HaRoute>();
  const resources = await pve.get<Record<string, unknown>[]>('/cluster/ha/resources', undefined, { signal });
  const wanted = new Set(vmids);
  const ours = resources.filter((r) => wanted.has(Number(String(r.sid).split(':')[1])));
  if (!ours.length) return out;
  const { kind } = await placementKind(pve, signal);
  const { rows } = await readPlacement(pve, signal);
  for (const r of ours) {
    const sid = String(r.sid);
    const vmid = Number(sid.split(':')[1]);
    const state = String(r.state ?? 'started');
    let binds: HaPlacement[];
    let failback: boolean;
    if (kind === 'groups') {
      binds = rows.filter((p) => p.kind === 'group' && r.group !== undefined && p.name === String(r.group));
      failback = !binds.some((p) => p.nofailback);
    } else {
      binds = rows.filter((p) => p.kind === 'node-affinity' && !p.disabled && p.resources?.includes(sid));
      failback = r.failback === undefined || Number(r.failback) !== 0;
    }
    const prio = new Map<string, number>();
    let allowed: string[] | undefined;
    for (const p of binds) {
      const nodes = priorities(p.nodes);
      for (const [name, value] of nodes) prio.set(name, Math.max(prio.get(name) ?? value, value));
      if (p.restricted || p.strict) allowed = allowed ? allowed.filter((n) => nodes.has(n)) : [...nodes.keys()];
    }
    const base = { sid, request_state: state, priorities: prio, placement: binds.map((p) => p.name), failback, ...(allowed ? { allowed } : {}) };
    if (state === 'ignored') out.set(vmid, { ...base, route: 'migrate', why: 'HA state ignored: HA leaves it alone, the normal migration moves it' });
    else if (state === 'disabled') out.set(vmid, { ...base, route: 'blocked', why: `HA state disabled: the HA manager does not move it; set its state to stopped (ha_change action update) to move it through HA, or ignored to move it yourself` });
    else out.set(vmid, { ...base, route: 'ha' });
  }
  return out;
}

/**
 * Would HA bring the guest back from `target` to `node` right after the move? Yes when failback is on and
 * its group or rules rank `node` above `target` (a node they do not list ranks below every listed one).
 */
export function comesBack(route: HaRoute, node: string, target: string): boolean {
  if (!route.failback || !route.priorities.has(node)) return false;
  return route.priorities.get(node)! > (route.priorities.get(target) ?? -1);
}
