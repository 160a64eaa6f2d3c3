/**
 * The firewall tools' shared parts: where a scope's firewall lives in the API, and the request one change
 * makes (put into the plan so the API policy, firewall-self-access included, judges it before anyone is
 * asked).
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import type { PlannedRequest, PrivilegeNeed, ToolContext } from '../tool.ts';
import { nodeName } from '../schemas.ts';

export const scopeShape = {
  scope: z.enum(['cluster', 'node', 'guest', 'vnet']).default('cluster').describe('cluster (datacenter), node (a host), guest (a VM or container), or vnet (an SDN vnet: forward rules)'),
  node: nodeName.optional().describe('scope node: the node'),
  vmid: z.coerce.number().int().min(100).max(999999999).optional().describe('scope guest: the guest (its node is found for you)'),
  vnet: z.string().regex(/^[a-z][a-z0-9]{0,7}$/i).optional().describe('scope vnet: the SDN vnet'),
};

export interface Scope {
  scope: 'cluster' | 'node' | 'guest' | 'vnet';
  node?: string;
  vmid?: number;
  vnet?: string;
}

/** The SDN zone a vnet belongs to (its ACL path is /sdn/zones/<zone>/<vnet>); refused when there is no such vnet. */
export async function vnetZone(vnet: string, ctx: ToolContext): Promise<string> {
  const vnets = await ctx.pve.get<{ vnet: string; zone?: string }[]>('/cluster/sdn/vnets', undefined, { signal: ctx.signal });
  const found = vnets.find((row) => row.vnet === vnet);
  if (!found) throw new ToolError('not_found', `There is no SDN vnet '${vnet}'. Vnets: ${vnets.map((row) => row.vnet).sort().join(', ') || 'none'}.`);
  return String(found.zone ?? '');
}

/** `/cluster/firewall`, `/nodes/pve1/firewall` or `/nodes/pve1/qemu/101/firewall`. */
export async function firewallBase(input: Scope, ctx: ToolContext): Promise<{ base: string; label: string; node?: string }> {
  if (input.scope === 'cluster') return { base: '/cluster/firewall', label: 'the cluster' };
  if (input.scope === 'vnet') {
    if (!input.vnet) throw new ToolError('invalid_input', 'scope vnet needs vnet.');
    await vnetZone(input.vnet, ctx);
    return { base: `/cluster/sdn/vnets/${input.vnet}/firewall`, label: `vnet ${input.vnet}` };
  }
  if (input.scope === 'node') {
    if (!input.node) throw new ToolError('invalid_input', 'scope node needs node.');
    return { base: `/nodes/${encodeURIComponent(input.node)}/firewall`, label: `node ${input.node}`, node: input.node };
  }
  if (input.vmid === undefined) throw new ToolError('invalid_input', 'scope guest needs vmid.');
  const where = await ctx.pve.locateGuest(input.vmid, { signal: ctx.signal });
  return { base: `/nodes/${encodeURIComponent(where.node)}/${where.type}/${input.vmid}/firewall`, label: `${where.type === 'qemu' ? 'VM' : 'CT'} ${input.vmid}${where.name ? ` (${where.name})` : ''}`, node: where.node };
}

export async function firewallPrivileges(input: Scope, change: boolean, ctx?: ToolContext, log = false): Promise<PrivilegeNeed[]> {
  if (input.scope === 'vnet') {
    const zone = ctx && input.vnet ? await vnetZone(input.vnet, ctx).catch(() => '{zone}') : '{zone}';
    return [{ path: `/sdn/zones/${zone}/${input.vnet ?? '{vnet}'}`, privileges: [change ? 'SDN.Allocate' : 'SDN.Audit'] }];
  }
  if (log && input.scope === 'guest') return [{ path: `/vms/${input.vmid ?? '{vmid}'}`, privileges: ['VM.Console'] }];
  if (log) return [{ path: `/nodes/${input.node ?? '{node}'}`, privileges: ['Sys.Syslog'] }];
  if (input.scope === 'guest') return [{ path: `/vms/${input.vmid ?? '{vmid}'}`, privileges: [change ? 'VM.Config.Network' : 'VM.Audit'] }];
  if (input.scope === 'node') return [{ path: `/nodes/${input.node ?? '{node}'}`, privileges: [change ? 'Sys.Modify' : 'Sys.Audit'] }];
  return [{ path: '/', privileges: [change ? 'Sys.Modify' : 'Sys.Audit'] }];
}

export const changeActions = ['rule_add', 'rule_update', 'rule_delete', 'rule_move', 'options_set', 'group_create', 'group_delete', 'alias_set', 'alias_delete', 'ipset_create', 'ipset_delete', 'ipset_add', 'ipset_remove'] as const;

const word = z.string().regex(/^[A-Za-z][A-Za-z0-9_\-]{0,63}$/);

export const changeInput = z.object({
  ...scopeShape,
  action: z.enum(changeActions).describe('rule_add/update/delete/move, options_set; cluster only: group_create/delete; cluster or guest: alias_set/delete, ipset_create/delete, ipset_add/remove'),
  group: word.optional().describe('A security group: its rules (rule_*), or the group to create/delete'),
  pos: z.coerce.number().int().min(0).max(100000).optional().describe('Rule position (update, delete, move; add: where, default top)'),
  moveto: z.coerce.number().int().min(0).max(100000).optional().describe('rule_move: new position'),
  type: z.enum(['in', 'out', 'forward', 'group']).optional().describe('Rule direction, or group to insert a security group'),
  rule_action: z.string().regex(/^(ACCEPT|DROP|REJECT|[A-Za-z][A-Za-z0-9_\-]{0,63})$/).optional().describe('ACCEPT, DROP, REJECT, or the security group for type group'),
  macro: z.string().regex(/^[A-Za-z0-9_\-]{1,64}$/).optional(),
  source: z.string().max(512).optional().describe('Address, CIDR, range, alias, +ipset, or a comma list'),
  dest: z.string().max(512).optional(),
  proto: z.string().regex(/^[a-z0-9\-]{1,16}$/).optional().describe('tcp, udp, icmp...'),
  dport: z.string().regex(/^[0-9:,a-z\-]{1,128}$/).optional().describe('Port, range a:b, or list'),
  sport: z.string().regex(/^[0-9:,a-z\-]{1,128}$/).optional(),
  iface: z.string().regex(/^[A-Za-z0-9_.\-]{1,20}$/).optional(),
  enable: z.boolean().optional().describe('rule: enabled; options_set: the firewall on or off'),
  policy_in: z.enum(['ACCEPT', 'DROP', 'REJECT']).optional().describe('options_set (cluster, guest)'),
  policy_out: z.enum(['ACCEPT', 'DROP', 'REJECT']).optional().describe('options_set (cluster, guest)'),
  policy_forward: z.enum(['ACCEPT', 'DROP']).optional().describe('options_set (vnet)'),
  comment: z.string().max(512).optional(),
  name: word.optional().describe('Alias or IP set name'),
  cidr: z.string().regex(/^[0-9a-fA-F.:/\-]{1,64}$/).optional().describe('alias_set, ipset_add, ipset_remove: address or network'),
  nomatch: z.boolean().optional().describe('ipset_add: an exception inside the set'),
});

export type ChangeInput = z.output<typeof changeInput>;

function need<T>(value: T | undefined, what: string, action: string): T {
  if (value === undefined) throw new ToolError('invalid_input', `${action} needs ${what}.`);
  return value;
}

export async function changeRequest(input: ChangeInput, ctx: ToolContext): Promise<{ request: PlannedRequest; summary: string; cli: string }> {
  const { base, label } = await firewallBase(input, ctx);
  const { action } = input;
  const clusterOnly = ['group_create', 'group_delete'];
  const clusterOrGuest = ['alias_set', 'alias_delete', 'ipset_create', 'ipset_delete', 'ipset_add', 'ipset_remove'];
  if ((clusterOnly.includes(action) || input.group) && input.scope !== 'cluster') throw new ToolError('invalid_input', `${action}${input.group ? ' with a security group' : ''} is a cluster-wide object here: use scope cluster.`);
  if (clusterOrGuest.includes(action) && input.scope !== 'cluster' && input.scope !== 'guest') throw new ToolError('invalid_input', `${action}: aliases and IP sets live in the cluster's firewall or a guest's (scope cluster or guest), not a ${input.scope}'s.`);
  if (input.scope === 'vnet' && input.type !== undefined && input.type !== 'forward') throw new ToolError('invalid_input', `A vnet's firewall holds forward rules only (type forward), not ${input.type}.`);
  if (input.scope === 'guest' && input.type === 'forward') throw new ToolError('invalid_input', 'Forward rules belong to a vnet\'s firewall (scope vnet), not a guest\'s.');
  if (input.policy_forward && input.scope !== 'vnet') throw new ToolError('invalid_input', 'policy_forward is a vnet option (scope vnet).');
  const ruleParams = () => {
    const params: Record<string, unknown> = {};
    for (const key of ['type', 'macro', 'source', 'dest', 'proto', 'dport', 'sport', 'iface', 'comment'] as const) if (input[key] !== undefined) params[key] = input[key];
    if (input.rule_action !== undefined) params.action = input.rule_action;
    if (input.enable !== undefined) params.enable = input.enable ? 1 : 0;
    return params;
  };
  const rules = input.group ? `${base}/groups/${encodeURIComponent(input.group)}` : `${base}/rules`;
  const cliBase = input.scope === 'cluster' ? '/cluster/firewall' : base;
  const show = (params: Record<string, unknown>) => Object.entries(params).map(([k, v]) => `--${k} ${JSON.stringify(v)}`).join(' ');
  switch (action) {
    case 'rule_add': {
      const params: Record<string, unknown> = { ...ruleParams(), ...(input.pos !== undefined ? { pos: input.pos } : {}) };
      if (input.scope === 'vnet' && params.type === undefined) params.type = 'forward';
      need(params.type, 'type (in, out, forward or group)', action);
      need(input.rule_action, 'rule_action (ACCEPT, DROP, REJECT, or the group)', action);
      return { request: { method: 'POST', path: rules, params }, summary: `Add a firewall rule to ${input.group ? `security group ${input.group}` : label} at position ${input.pos ?? 0}: ${String(params.type)} ${input.rule_action}${input.proto ? ` ${input.proto}` : ''}${input.dport ? ` dport ${input.dport}` : ''}${input.source ? ` from ${input.source}` : ''}`, cli: `pvesh create ${rules} ${show(params)}` };
    }
    case 'rule_update': {
      const params = ruleParams();
      if (!Object.keys(params).length) throw new ToolError('invalid_input', 'rule_update needs something to change (type, rule_action, macro, source, dest, proto, dport, sport, iface, enable, comment).');
      const path = `${rules}/${need(input.pos, 'pos', action)}`;
      return { request: { method: 'PUT', path, params }, summary: `Change firewall rule ${input.pos} of ${input.group ? `security group ${input.group}` : label}`, cli: `pvesh set ${path} ${show(params)}` };
    }
    case 'rule_delete': {
      const path = `${rules}/${need(input.pos, 'pos', action)}`;
      return { request: { method: 'DELETE', path }, summary: `Delete firewall rule ${input.pos} of ${input.group ? `security group ${input.group}` : label}`, cli: `pvesh delete ${path}` };
    }
    case 'rule_move': {
      const path = `${rules}/${need(input.pos, 'pos', action)}`;
      return { request: { method: 'PUT', path, params: { moveto: need(input.moveto, 'moveto', action) } }, summary: `Move firewall rule ${input.pos} of ${label} to position ${input.moveto}`, cli: `pvesh set ${path} --moveto ${input.moveto}` };
    }
    case 'options_set': {
      const params: Record<string, unknown> = {};
      if (input.enable !== undefined) params.enable = input.enable ? 1 : 0;
      if (input.scope === 'vnet') {
        if (input.policy_in || input.policy_out) throw new ToolError('invalid_input', 'A vnet\'s firewall has policy_forward, not policy_in/policy_out.');
        if (input.policy_forward) params.policy_forward = input.policy_forward;
      } else if (input.scope !== 'node') {
        if (input.policy_in) params.policy_in = input.policy_in;
        if (input.policy_out) params.policy_out = input.policy_out;
      } else if (input.policy_in || input.policy_out) throw new ToolError('invalid_input', 'A node has no policy of its own: the cluster\'s policy_in/policy_out apply to hosts (scope cluster).');
      if (!Object.keys(params).length) throw new ToolError('invalid_input', `options_set needs enable${input.scope === 'vnet' ? ' or policy_forward' : ', policy_in or policy_out'}.`);
      return { request: { method: 'PUT', path: `${base}/options`, params }, summary: `Set the firewall options of ${label}: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(', ')}`, cli: `pvesh set ${cliBase}/options ${show(params)}` };
    }
    case 'group_create':
      return { request: { method: 'POST', path: `${base}/groups`, params: { group: need(input.group, 'group', action), ...(input.comment ? { comment: input.comment } : {}) } }, summary: `Create security group ${input.group}`, cli: `pvesh create /cluster/firewall/groups --group ${input.group}` };
    case 'group_delete':
      return { request: { method: 'DELETE', path: `${base}/groups/${encodeURIComponent(need(input.group, 'group', action))}` }, summary: `Delete security group ${input.group} (Proxmox refuses while rules use it or it has rules)`, cli: `pvesh delete /cluster/firewall/groups/${input.group}` };
    case 'alias_set': {
      const name = need(input.name, 'name', action);
      const cidr = need(input.cidr, 'cidr', action);
      const existing = await ctx.pve.get<{ name: string }[]>(`${base}/aliases`, undefined, { signal: ctx.signal });
      const exists = existing.some((a) => a.name.toLowerCase() === name.toLowerCase());
      const params = { cidr, ...(input.comment ? { comment: input.comment } : {}) };
      return exists
        ? { request: { method: 'PUT', path: `${base}/aliases/${encodeURIComponent(name)}`, params }, summary: `Point alias ${name} of ${label} at ${cidr}`, cli: `pvesh set ${base}/aliases/${name} --cidr ${cidr}` }
        : { request: { method: 'POST', path: `${base}/aliases`, params: { name, ...params } }, summary: `Create alias ${name} = ${cidr} in ${label}`, cli: `pvesh create ${base}/aliases --name ${name} --cidr ${cidr}` };
    }
    case 'alias_delete':
      return { request: { method: 'DELETE', path: `${base}/aliases/${encodeURIComponent(need(input.name, 'name', action))}` }, summary: `Delete alias ${input.name}`, cli: `pvesh delete ${base}/aliases/${input.name}` };
    case 'ipset_create':
      return { request: { method: 'POST', path: `${base}/ipset`, params: { name: need(input.name, 'name', action), ...(input.comment ? { comment: input.comment } : {}) } }, summary: `Create IP set ${input.name} in ${label}`, cli: `pvesh create ${base}/ipset --name ${input.name}` };
    case 'ipset_delete':
      return { request: { method: 'DELETE', path: `${base}/ipset/${encodeURIComponent(need(input.name, 'name', action))}` }, summary: `Delete IP set ${input.name} (Proxmox refuses while it has entries)`, cli: `pvesh delete ${base}/ipset/${input.name}` };
    case 'ipset_add':
      return { request: { method: 'POST', path: `${base}/ipset/${encodeURIComponent(need(input.name, 'name', action))}`, params: { cidr: need(input.cidr, 'cidr', action), ...(input.nomatch ? { nomatch: 1 } : {}), ...(input.comment ? { comment: input.comment } : {}) } }, summary: `Add ${input.cidr}${input.nomatch ? ' (nomatch)' : ''} to IP set ${input.name} of ${label}`, cli: `pvesh create ${base}/ipset/${input.name} --cidr ${input.cidr}` };
    case 'ipset_remove':
      return { request: { method: 'DELETE', path: `${base}/ipset/${encodeURIComponent(need(input.name, 'name', action))}/${encodeURIComponent(need(input.cidr, 'cidr', action))}` }, summary: `Remove ${input.cidr} from IP set ${input.name}`, cli: `pvesh delete ${base}/ipset/${input.name}/${input.cidr}` };
  }
}
