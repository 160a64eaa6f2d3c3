/**
 * What an HA change sends, worked out before anyone is asked: the same requests go into the plan (judged by
 * the API policy first) and are then sent in order. Placement follows the cluster's version: on PVE 8 an HA
 * group (and the guests bound to it through their resource's `group`), on PVE 9 an HA rule (node affinity,
 * or resource affinity when `affinity` is given), since 9 migrated groups to rules.
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import type { PlannedRequest, ToolContext } from '../tool.ts';
import { nodeName } from '../schemas.ts';
import { notManaged, placementKind, sidOf } from './status.ts';

export const haActions = ['add', 'update', 'remove', 'migrate', 'relocate', 'placement_set', 'placement_remove'] as const;

export const haChangeInput = z.object({
  action: z.enum(haActions).describe('add | update | remove a guest under HA; migrate (online) | relocate (stop, move, start) through HA; placement_set | placement_remove (group on PVE 8, rule on PVE 9)'),
  vmid: z.coerce.number().int().min(100).max(999999999).optional().describe('The guest (add, update, remove, migrate, relocate)'),
  state: z.enum(['started', 'stopped', 'disabled', 'ignored']).optional().describe('Requested HA state (add, update): started (default), stopped, disabled, ignored'),
  max_restart: z.coerce.number().int().min(0).max(10).optional().describe('Restarts on the same node before relocating (add, update)'),
  max_relocate: z.coerce.number().int().min(0).max(10).optional().describe('Relocations before giving up (add, update)'),
  comment: z.string().max(4096).optional(),
  node: nodeName.optional().describe('Target node (migrate, relocate)'),
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_\-.]{1,127}$/).optional().describe('Group (PVE 8) or rule (PVE 9) name (placement_set, placement_remove; add/update: the PVE 8 group)'),
  nodes: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}(:\d{1,4})?$/)).max(64).optional().describe('placement_set: nodes, optionally node:priority'),
  vmids: z.array(z.coerce.number().int().min(100).max(999999999)).max(256).optional().describe('placement_set: the HA guests it binds'),
  strict: z.boolean().optional().describe('placement_set: only these nodes (PVE 9 strict, PVE 8 restricted)'),
  affinity: z.enum(['positive', 'negative']).optional().describe('placement_set on PVE 9: a resource-affinity rule (keep together / apart) instead of node affinity'),
});

export type HaChangeInput = z.output<typeof haChangeInput>;

export interface HaChangePlan {
  requests: PlannedRequest[];
  summary: string;
  cli: string;
  warnings: string[];
  risk: 'low' | 'medium' | 'high';
  undo?: string;
  node?: string;
}

function need<T>(value: T | undefined, what: string, action: string): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) throw new ToolError('invalid_input', `${action} needs ${what}.`);
  return value;
}

async function managed(ctx: ToolContext): Promise<string[]> {
  const rows = await ctx.pve.get<{ sid: string }[]>('/cluster/ha/resources', undefined, { signal: ctx.signal });
  return rows.map((r) => String(r.sid));
}

export async function planHaChange(input: HaChangeInput, ctx: ToolContext): Promise<HaChangePlan> {
  const { action } = input;
  const { kind } = await placementKind(ctx.pve, ctx.signal);
  const warnings: string[] = [];
  if (action === 'placement_set' || action === 'placement_remove') {
    const name = need(input.name, 'name (the group or rule)', action);
    if (action === 'placement_remove') {
      const path = kind === 'groups' ? `/cluster/ha/groups/${name}` : `/cluster/ha/rules/${name}`;
      return { requests: [{ method: 'DELETE', path }], summary: `Remove HA ${kind === 'groups' ? 'group' : 'rule'} ${name}`, cli: kind === 'groups' ? `ha-manager groupremove ${name}` : `ha-manager rules remove ${name}`, warnings: ['Guests it placed may move on the next HA decision.'], risk: 'medium' };
    }
    const sids = await Promise.all((input.vmids ?? []).map(async (vmid) => (await sidOf(ctx.pve, vmid, ctx.signal)).sid));
    const known = await managed(ctx);
    const unmanaged = sids.filter((sid) => !known.includes(sid));
    if (unmanaged.length) throw notManaged(unmanaged.join(', '), known);
    if (kind === 'groups') {
      if (input.affinity) throw new ToolError('invalid_input', 'Resource affinity (keep guests together or apart) needs HA rules, which PVE 9 has; this cluster runs PVE 8 (HA groups only).');
      const nodes = need(input.nodes, 'nodes', action);
      const requests: PlannedRequest[] = [{ method: 'POST', path: '/cluster/ha/groups', params: { group: name, nodes: nodes.join(','), ...(input.strict ? { restricted: 1 } : {}), ...(input.comment ? { comment: input.comment } : {}) } }];
      for (const sid of sids) requests.push({ method: 'PUT', path: `/cluster/ha/resources/${sid}`, params: { group: name } });
      return { requests, summary: `Create HA group ${name} on ${nodes.join(', ')}${sids.length ? ` and bind ${sids.join(', ')}` : ''}`, cli: `ha-manager groupadd ${name} --nodes ${nodes.join(',')}${input.strict ? ' --restricted 1' : ''}`, warnings: sids.length ? ['HA may move the bound guests to the group\'s preferred nodes.'] : [], risk: 'medium', undo: `ha_change action placement_remove name ${name}` };
    }
    need(sids, 'vmids (the HA guests the rule binds)', action);
    const params: Record<string, unknown> = { rule: name, resources: sids.join(',') };
    if (input.affinity) {
      if (input.nodes?.length) throw new ToolError('invalid_input', 'A resource-affinity rule (affinity) names guests only; leave nodes out, or drop affinity for a node-affinity rule.');
      Object.assign(params, { type: 'resource-affinity', affinity: input.affinity });
    } else {
      Object.assign(params, { type: 'node-affinity', nodes: need(input.nodes, 'nodes (or affinity for a resource-affinity rule)', action).join(','), ...(input.strict ? { strict: 1 } : {}) });
    }
    if (input.comment) params.comment = input.comment;
    return { requests: [{ method: 'POST', path: '/cluster/ha/rules', params }], summary: `Create HA rule ${name} (${params.type}) for ${sids.join(', ')}`, cli: `ha-manager rules add ${params.type} ${name} --resources ${sids.join(',')}${params.nodes ? ` --nodes ${params.nodes}` : ` --affinity ${input.affinity}`}`, warnings: ['HA may move the guests to satisfy the rule.'], risk: 'medium', undo: `ha_change action placement_remove name ${name}` };
  }

  const vmid = need(input.vmid, 'vmid', action);
  const guest = await sidOf(ctx.pve, vmid, ctx.signal);
  const who = `${guest.sid}${guest.name ? ` (${guest.name})` : ''}`;
  const known = await managed(ctx);
  const isManaged = known.includes(guest.sid);
  const path = `/cluster/ha/resources/${guest.sid}`;
  const settings = (): Record<string, unknown> => ({
    ...(input.state ? { state: input.state } : {}),
    ...(input.max_restart !== undefined ? { max_restart: input.max_restart } : {}),
    ...(input.max_relocate !== undefined ? { max_relocate: input.max_relocate } : {}),
    ...(input.comment !== undefined ? { comment: input.comment } : {}),
    ...(input.name ? { group: input.name } : {}),
  });
  if (input.name && kind === 'rules' && (action === 'add' || action === 'update')) {
    throw new ToolError('invalid_input', 'PVE 9 has no HA groups (they became rules): leave name out and bind the guest with ha_change action placement_set.');
  }
  const stateWarning = (state: string | undefined) => {
    if (state === 'stopped' || state === 'disabled') warnings.push(`HA stops ${who} and keeps it ${state}.`);
    if (state === 'started') warnings.push(`HA starts ${who} if it is not running, and restarts it on failure.`);
    if (state === 'ignored') warnings.push(`HA leaves ${who} alone (no recovery) until the state changes.`);
  };
  switch (action) {
    case 'add': {
      if (isManaged) throw new ToolError('conflict', `${who} is already managed by HA; use action update to change its state or limits.`);
      stateWarning(input.state ?? 'started');
      return { requests: [{ method: 'POST', path: '/cluster/ha/resources', params: { sid: guest.sid, ...settings() } }], summary: `Put ${who} under HA (state ${input.state ?? 'started'})`, cli: `ha-manager add ${guest.sid}${input.state ? ` --state ${input.state}` : ''}`, warnings, risk: 'medium', undo: `ha_change action remove vmid ${vmid}`, node: guest.node };
    }
    case 'update': {
      if (!isManaged) throw notManaged(guest.sid, known);
      const params = settings();
      if (!Object.keys(params).length) throw new ToolError('invalid_input', 'update needs something to change: state, max_restart, max_relocate, comment or name (the PVE 8 group).');
      stateWarning(input.state);
      return { requests: [{ method: 'PUT', path, params }], summary: `Change HA settings of ${who}: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(', ')}`, cli: `ha-manager set ${guest.sid} ${Object.entries(params).map(([k, v]) => `--${k} ${v}`).join(' ')}`, warnings, risk: input.state === 'stopped' || input.state === 'disabled' ? 'high' : 'medium', node: guest.node };
    }
    case 'remove': {
      if (!isManaged) throw notManaged(guest.sid, known);
      warnings.push(`${who} keeps running as it is, but nothing recovers it after a node failure.`);
      return { requests: [{ method: 'DELETE', path }], summary: `Take ${who} out of HA`, cli: `ha-manager remove ${guest.sid}`, warnings, risk: 'medium', undo: `ha_change action add vmid ${vmid}`, node: guest.node };
    }
    default: {
      if (!isManaged) throw notManaged(guest.sid, known);
      const target = need(input.node, 'node (the target)', action);
      const nodes = (await ctx.pve.clusterResources('node', { signal: ctx.signal })).filter((r) => r.type === 'node');
      const row = nodes.find((r) => r.node === target);
      if (!row) throw new ToolError('not_found', `Node '${target}' is not in this cluster. Nodes: ${nodes.map((r) => r.node).join(', ')}.`);
      if (row.status !== 'online') throw new ToolError('conflict', `Node '${target}' is ${row.status ?? 'not online'}: HA would not move ${who} there. Pick an online node.`);
      if (guest.node === target) throw new ToolError('conflict', `${who} already runs on ${target}.`);
      if (action === 'relocate') warnings.push(`${who} is stopped on ${guest.node} and started again on ${target} (downtime).`);
      else warnings.push(`HA migrates ${who} online from ${guest.node} to ${target}; the CRM carries it out within seconds.`);
      return { requests: [{ method: 'POST', path: `${path}/${action}`, params: { node: target } }], summary: `${action === 'migrate' ? 'Migrate' : 'Relocate'} ${who} from ${guest.node} to ${target} through HA`, cli: `ha-manager ${action} ${guest.sid} ${target}`, warnings, risk: action === 'relocate' ? 'high' : 'medium', undo: `ha_change action ${action} vmid ${vmid} node ${guest.node}`, node: guest.node };
    }
  }
}
