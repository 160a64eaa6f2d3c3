import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';
import { firewallBase, firewallPrivileges, scopeShape } from '../lib/firewall/tool.ts';

const views = ['rules', 'options', 'groups', 'aliases', 'ipsets'] as const;
const ruleColumns = ['pos', 'type', 'action', 'macro', 'proto', 'dport', 'sport', 'source', 'dest', 'iface', 'enable', 'log', 'comment'];

export default defineTool({
  name: 'firewall_get',
  title: 'Firewall: rules, options, groups, aliases, IP sets',
  description:
    'Read the Proxmox firewall of the cluster, a node or a guest: view rules (in order; group names a security group\'s rules), options (enabled, policies), ' +
    'and for the cluster groups, aliases, ipsets (ipset names one set\'s entries). Rules page, sort and pick fields. Changes: firewall_change.',
  toolset: 'firewall',
  input: z.object({
    ...scopeShape,
    view: z.enum(views).default('rules').describe('rules, options; cluster only: groups, aliases, ipsets'),
    group: z.string().regex(/^[A-Za-z][A-Za-z0-9_\-]{0,63}$/).optional().describe('view rules: this security group\'s rules'),
    ipset: z.string().regex(/^[A-Za-z][A-Za-z0-9_\-]{0,63}$/).optional().describe('view ipsets: this set\'s entries'),
    ...pageShape({ defaultLimit: 100, maxLimit: 2000, sortable: ['pos', 'type', 'action', 'proto', 'dport', 'source'], defaultSort: 'pos' }),
  }),
  output: z.object({
    target: z.string(),
    view: z.enum(views),
    options: z.record(z.string(), z.unknown()).optional(),
    rows: z.array(z.record(z.string(), z.unknown())).optional(),
    total: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
  }),
  effect: 'read',
  privileges: (input) => firewallPrivileges(input, false),
  explain: (input) => ({
    summary: `Read the firewall ${input.view} of ${input.scope === 'cluster' ? 'the cluster' : input.scope === 'node' ? `node ${input.node ?? '?'}` : `guest ${input.vmid ?? '?'}`}`,
    apiCalls: [`GET ${input.scope === 'cluster' ? '/cluster' : input.scope === 'node' ? `/nodes/${input.node ?? '{node}'}` : `/nodes/{node}/{qemu|lxc}/${input.vmid ?? '{vmid}'}`}/firewall/${input.view === 'ipsets' ? 'ipset' : input.view}`],
    cliEquivalent: input.scope === 'cluster' ? `pvesh get /cluster/firewall/${input.view === 'ipsets' ? 'ipset' : input.view}` : undefined,
    privileges: firewallPrivileges(input, false),
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    if (['groups', 'aliases', 'ipsets'].includes(input.view) && input.scope !== 'cluster') throw new ToolError('invalid_input', `view ${input.view} is read at scope cluster (security groups, aliases and IP sets here are cluster-wide).`);
    if (input.group && (input.view !== 'rules' || input.scope !== 'cluster')) throw new ToolError('invalid_input', 'group goes with view rules at scope cluster.');
    const { base, label, node } = await firewallBase(input, ctx);
    const get = <T>(path: string) => ctx.pve.get<T>(path, undefined, { signal: ctx.signal });
    if (input.view === 'options') {
      const options = await get<Record<string, unknown>>(`${base}/options`);
      const { digest: _digest, ...rest } = options;
      const on = Number(rest.enable ?? (input.scope === 'node' ? 1 : 0)) !== 0;
      return { data: { target: label, view: 'options' as const, options: rest }, summary: `Firewall of ${label}: ${on ? 'enabled' : 'disabled'}${rest.policy_in ? `, policy_in ${rest.policy_in}` : ''}${rest.policy_out ? `, policy_out ${rest.policy_out}` : ''}`, ...(node ? { node } : {}), ...(input.vmid ? { vmid: input.vmid } : {}) };
    }
    let rows: Record<string, unknown>[];
    let key = 'pos';
    let noun: string = input.view;
    if (input.view === 'rules') {
      rows = await get<Record<string, unknown>[]>(input.group ? `${base}/groups/${encodeURIComponent(input.group)}` : `${base}/rules`);
      noun = input.group ? `rules of security group ${input.group}` : 'rules';
    } else if (input.view === 'groups') {
      rows = await get<Record<string, unknown>[]>(`${base}/groups`);
      key = 'group';
    } else if (input.view === 'aliases') {
      rows = await get<Record<string, unknown>[]>(`${base}/aliases`);
      key = 'name';
    } else if (input.ipset) {
      rows = await get<Record<string, unknown>[]>(`${base}/ipset/${encodeURIComponent(input.ipset)}`);
      key = 'cidr';
      noun = `entries of IP set ${input.ipset}`;
    } else {
      rows = await get<Record<string, unknown>[]>(`${base}/ipset`);
      key = 'name';
    }
    rows = rows.map(({ digest: _digest, ...rest }) => rest);
    const columns = input.view === 'rules' ? ruleColumns : [...new Set(rows.flatMap((row) => Object.keys(row)).concat([key]))];
    const sortable = input.view === 'rules' ? ['pos', 'type', 'action', 'proto', 'dport', 'source'] : [key];
    const page = paginate(rows, { ...input, sort: input.view === 'rules' ? input.sort : input.sort && sortable.includes(input.sort.replace(/^-/, '')) ? input.sort : undefined }, { sortable, tieBreak: [key], columns, key: [key] });
    return {
      data: { target: label, view: input.view, rows: page.rows, total: page.total, next_cursor: page.next_cursor },
      summary: `Firewall of ${label}: ${pageLine(page, input.cursor, input.sort, noun)}`,
      ...(node ? { node } : {}),
      ...(input.vmid ? { vmid: input.vmid } : {}),
    };
  },
});
