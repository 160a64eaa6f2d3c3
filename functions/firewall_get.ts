import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';
import { firewallBase, firewallPrivileges, scopeShape } from '../lib/firewall/tool.ts';

const views = ['rules', 'options', 'groups', 'aliases', 'ipsets', 'log'] as const;
const when = z.union([z.coerce.number().int().min(0).max(2 ** 40), z.string().datetime({ offset: true })]);
const epoch = (value: number | string | undefined) => (value === undefined ? undefined : typeof value === 'number' ? value : Math.floor(Date.parse(value) / 1000));
const ruleColumns = ['pos', 'type', 'action', 'macro', 'proto', 'dport', 'sport', 'source', 'dest', 'iface', 'enable', 'log', 'comment'];

export default defineTool({
  name: 'firewall_get',
  title: 'Firewall: rules, options, groups, aliases, IP sets',
  description:
    'Read the Proxmox firewall of the cluster, a node, a guest or an SDN vnet: view rules (in order; group names a security group\'s rules), options (enabled, policies), ' +
    'groups (cluster), aliases and ipsets (cluster or guest; ipset names one set\'s entries), log (node or guest: pages by start, since/until). Rules page, sort and pick fields. Changes: firewall_change.',
  toolset: 'firewall',
  input: z.object({
    ...scopeShape,
    view: z.enum(views).default('rules').describe('rules, options; groups (cluster); aliases, ipsets (cluster, guest); log (node, guest)'),
    group: z.string().regex(/^[A-Za-z][A-Za-z0-9_\-]{0,63}$/).optional().describe('view rules: this security group\'s rules'),
    ipset: z.string().regex(/^[A-Za-z][A-Za-z0-9_\-]{0,63}$/).optional().describe('view ipsets: this set\'s entries'),
    start: z.coerce.number().int().min(0).max(10_000_000).optional().describe('view log: first line (0-based; next_start of the last page)'),
    since: when.optional().describe('view log: from this time (ISO 8601 or UNIX seconds)'),
    until: when.optional().describe('view log: up to this time'),
    ...pageShape({ defaultLimit: 100, maxLimit: 2000, sortable: ['pos', 'type', 'action', 'proto', 'dport', 'source'], defaultSort: 'pos' }),
  }),
  output: z.object({
    target: z.string(),
    view: z.enum(views),
    options: z.record(z.string(), z.unknown()).optional(),
    rows: z.array(z.record(z.string(), z.unknown())).optional(),
    total: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
    lines: z.array(z.object({ n: z.number(), t: z.string() })).optional().describe('view log: the log lines'),
    next_start: z.number().nullable().optional(),
    dropped: z.record(z.string(), z.number()).optional().describe('view log: dropped/rejected lines per destination port on this page'),
  }),
  effect: 'read',
  privileges: (input, ctx) => firewallPrivileges(input, false, ctx, input.view === 'log'),
  explain: async (input, ctx) => ({
    summary: `Read the firewall ${input.view} of ${input.scope === 'cluster' ? 'the cluster' : input.scope === 'node' ? `node ${input.node ?? '?'}` : input.scope === 'vnet' ? `vnet ${input.vnet ?? '?'}` : `guest ${input.vmid ?? '?'}`}`,
    apiCalls: [`GET ${input.scope === 'cluster' ? '/cluster' : input.scope === 'node' ? `/nodes/${input.node ?? '{node}'}` : input.scope === 'vnet' ? `/cluster/sdn/vnets/${input.vnet ?? '{vnet}'}` : `/nodes/{node}/{qemu|lxc}/${input.vmid ?? '{vmid}'}`}/firewall/${input.view === 'ipsets' ? 'ipset' : input.view}`],
    cliEquivalent: input.scope === 'cluster' ? `pvesh get /cluster/firewall/${input.view === 'ipsets' ? 'ipset' : input.view}` : undefined,
    privileges: await firewallPrivileges(input, false, ctx, input.view === 'log'),
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    if (input.view === 'groups' && input.scope !== 'cluster') throw new ToolError('invalid_input', 'view groups is read at scope cluster (security groups are cluster-wide).');
    if ((input.view === 'aliases' || input.view === 'ipsets') && input.scope !== 'cluster' && input.scope !== 'guest') throw new ToolError('invalid_input', `view ${input.view}: aliases and IP sets live in the cluster's firewall or a guest's (scope cluster or guest).`);
    if (input.view === 'log' && input.scope !== 'node' && input.scope !== 'guest') throw new ToolError('invalid_input', 'view log is a node\'s or a guest\'s firewall log (scope node or guest).');
    if (input.view !== 'log' && (input.start !== undefined || input.since !== undefined || input.until !== undefined)) throw new ToolError('invalid_input', 'start, since and until go with view log.');
    if (input.group && (input.view !== 'rules' || input.scope !== 'cluster')) throw new ToolError('invalid_input', 'group goes with view rules at scope cluster.');
    const { base, label, node } = await firewallBase(input, ctx);
    const get = <T>(path: string) => ctx.pve.get<T>(path, undefined, { signal: ctx.signal });
    if (input.view === 'log') {
      const limit = Math.min(input.limit, 500);
      const start = input.start ?? 0;
      const since = epoch(input.since);
      const until = epoch(input.until);
      if (Number.isNaN(since) || Number.isNaN(until)) throw new ToolError('invalid_input', 'since/until: an ISO 8601 time or UNIX seconds.');
      const lines = await ctx.pve.get<{ n: number; t: string }[]>(`${base}/log`, { start, limit, ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) }, { signal: ctx.signal });
      // pve-firewall's lines: VMID LEVEL CHAIN TIME TEXT; count the drops and rejects by destination port
      const dropped: Record<string, number> = {};
      for (const line of lines) {
        if (!/\b(DROP|REJECT)\b/.test(line.t)) continue;
        const port = /\bDPT=(\d+)/.exec(line.t)?.[1] ?? 'other';
        dropped[port] = (dropped[port] ?? 0) + 1;
      }
      const top = Object.entries(dropped).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([port, count]) => `${count} to port ${port}`);
      const more = lines.length === limit;
      return {
        data: { target: label, view: 'log' as const, lines, next_start: more ? start + lines.length : null, dropped },
        summary: `Firewall log of ${label}: ${lines.length ? `lines ${start + 1}-${start + lines.length}` : 'no lines'}${since !== undefined || until !== undefined ? ' in the time asked' : ''}${top.length ? `; dropped/rejected ${top.join(', ')}` : ''}${more ? `; more from start ${start + lines.length}` : ''}`,
        ...(node ? { node } : {}),
        ...(input.vmid ? { vmid: input.vmid } : {}),
      };
    }
    if (input.view === 'options') {
      const options = await get<Record<string, unknown>>(`${base}/options`);
      const { digest: _digest, ...rest } = options;
      const on = Number(rest.enable ?? (input.scope === 'node' ? 1 : 0)) !== 0;
      return { data: { target: label, view: 'options' as const, options: rest }, summary: `Firewall of ${label}: ${on ? 'enabled' : 'disabled'}${rest.policy_in ? `, policy_in ${rest.policy_in}` : ''}${rest.policy_out ? `, policy_out ${rest.policy_out}` : ''}${rest.policy_forward ? `, policy_forward ${rest.policy_forward}` : ''}`, ...(node ? { node } : {}), ...(input.vmid ? { vmid: input.vmid } : {}) };
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
