import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { haOverview, readPlacement } from '../lib/ha/status.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';

const columns = ['sid', 'vmid', 'type', 'name', 'node', 'state', 'request_state', 'max_restart', 'max_relocate', 'group', 'failback', 'comment', 'placement'];

export default defineTool({
  name: 'ha_status',
  title: 'HA: status, resources, placement',
  description:
    'High availability, read only. view status (default): quorum, the HA manager, each node\'s LRM, every HA guest with its node and state, and what is wrong. ' +
    'view placement: HA groups (PVE 8) or HA rules, node and resource affinity (PVE 9). Resources page, sort and pick fields. Changes: ha_change.',
  toolset: 'ha',
  input: z.object({
    view: z.enum(['status', 'placement']).default('status').describe('status (manager, quorum, resources) or placement (groups on PVE 8, rules on PVE 9)'),
    node: z.string().max(64).optional().describe('status: only HA guests on this node'),
    ...pageShape({ defaultLimit: 100, maxLimit: 2000, sortable: ['sid', 'vmid', 'name', 'node', 'state', 'request_state'], defaultSort: 'vmid' }),
  }),
  output: z.object({
    view: z.enum(['status', 'placement']),
    pve_major: z.number().optional(),
    placement_kind: z.enum(['groups', 'rules']).optional().describe('groups on PVE 8, rules on PVE 9'),
    quorum: z.object({ ok: z.boolean(), node: z.string().optional(), status: z.string().optional() }).optional(),
    manager: z.object({ node: z.string().optional(), status: z.string().optional(), active: z.boolean() }).optional(),
    fencing: z.string().optional(),
    lrms: z.array(z.object({ node: z.string(), status: z.string(), active: z.boolean() })).optional(),
    total: z.number(),
    returned: z.number(),
    next_cursor: z.string().nullable(),
    resources: z.array(z.record(z.string(), z.unknown())).optional().describe('HA guests: sid, node, state (what HA reports), request_state (what was asked)'),
    placement: z.array(z.record(z.string(), z.unknown())).optional(),
    problems: z.array(z.string()).optional(),
  }),
  effect: 'read',
  privileges: () => [{ path: '/', privileges: ['Sys.Audit'] }],
  explain: (input) => ({
    summary: input.view === 'placement' ? 'Read HA groups (PVE 8) or HA rules (PVE 9)' : 'Read HA status: quorum, manager, LRMs and every HA resource',
    apiCalls: input.view === 'placement'
      ? ['GET /version', 'GET /cluster/ha/groups (PVE 8) or GET /cluster/ha/rules (PVE 9)']
      : ['GET /version', 'GET /cluster/ha/status/current', 'GET /cluster/ha/resources', 'GET /cluster/resources?type=vm'],
    cliEquivalent: input.view === 'placement' ? 'ha-manager groupconfig (PVE 8) / ha-manager rules config (PVE 9)' : 'ha-manager status --verbose',
    privileges: [{ path: '/', privileges: ['Sys.Audit'] }],
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    if (input.view === 'placement') {
      const { kind, rows } = await readPlacement(ctx.pve, ctx.signal);
      const page = paginate(rows, input, { sortable: ['name', 'kind', 'nodes'], tieBreak: ['name'], columns: ['name', 'kind', 'nodes', 'resources', 'strict', 'restricted', 'nofailback', 'affinity', 'disabled', 'comment'], key: ['name'] });
      return {
        data: { view: 'placement' as const, placement_kind: kind, total: page.total, returned: page.returned, next_cursor: page.next_cursor, placement: page.rows },
        summary: `HA ${kind === 'groups' ? 'groups (PVE 8)' : 'rules (PVE 9)'}: ${pageLine(page, input.cursor, input.sort, kind)}`,
        cliEquivalent: kind === 'groups' ? 'ha-manager groupconfig' : 'ha-manager rules config',
      };
    }
    const overview = await haOverview(ctx.pve, ctx.signal);
    const rows = input.node ? overview.resources.filter((r) => r.node === input.node) : overview.resources;
    const page = paginate(rows, input, { sortable: ['sid', 'vmid', 'name', 'node', 'state', 'request_state'], tieBreak: ['vmid'], columns, key: ['sid'] });
    const { resources: _all, ...rest } = overview;
    const headline = `HA: quorum ${overview.quorum.ok ? 'OK' : 'LOST'}, manager ${overview.manager.active ? `active on ${overview.manager.node}` : 'NOT active'}, ${overview.resources.length} HA guest(s); ${pageLine(page, input.cursor, input.sort, 'resources')}`;
    return {
      data: { view: 'status' as const, ...rest, total: page.total, returned: page.returned, next_cursor: page.next_cursor, resources: page.rows },
      summary: overview.problems.length ? `${headline}. Problems: ${overview.problems.join(' ')}` : headline,
      warnings: overview.problems,
      suggestions: overview.resources.length === 0 ? ['No guest is under HA: ha_change action add puts one there (shared storage needed for recovery).'] : [],
      cliEquivalent: 'ha-manager status --verbose',
    };
  },
});
