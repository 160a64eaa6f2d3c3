import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { nodeName } from '../lib/schemas.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';
import { readCeph, readReplication, readSdn } from '../lib/cluster-extras/read.ts';
import { onlineNodes } from '../lib/metrics/report.ts';

export default defineTool({
  name: 'infra_status',
  title: 'Ceph, SDN and replication status',
  description:
    'Read only. view ceph: health and its checks, monitors, OSDs (up/in, fill), PGs, pools and use, and what is wrong (like pveceph status). ' +
    'view sdn: zones, vnets, subnets and pending changes (apply with sdn_apply). view replication: each job and its last result. Lists page, sort and pick fields.',
  toolset: 'infra',
  input: z.object({
    view: z.enum(['ceph', 'sdn', 'replication']).describe('ceph, sdn or replication'),
    node: nodeName.optional().describe('ceph: the node to ask (default the first online one)'),
    ...pageShape({ defaultLimit: 100, maxLimit: 2000, sortable: ['id', 'guest', 'source', 'target', 'state', 'last_sync', 'fail_count'], defaultSort: 'id (replication)' }),
  }),
  output: z.object({
    view: z.enum(['ceph', 'sdn', 'replication']),
    ceph: z.record(z.string(), z.unknown()).optional(),
    sdn: z.record(z.string(), z.unknown()).optional(),
    jobs: z.array(z.record(z.string(), z.unknown())).optional(),
    total: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
    problems: z.array(z.string()),
  }),
  effect: 'read',
  privileges: (input) => [{ path: input.view === 'sdn' ? '/sdn' : '/', privileges: input.view === 'sdn' ? ['SDN.Audit'] : ['Sys.Audit'] }],
  explain: (input) => ({
    summary: `Read ${input.view === 'ceph' ? 'the Ceph status, OSD tree and pools' : input.view === 'sdn' ? 'the SDN zones, vnets and subnets with pending changes' : 'the replication jobs and each source node\'s status'}`,
    apiCalls: input.view === 'ceph'
      ? ['GET /cluster/ceph/status', 'GET /nodes/{node}/ceph/osd', 'GET /nodes/{node}/ceph/pool']
      : input.view === 'sdn'
        ? ['GET /cluster/sdn/zones?pending=1', 'GET /cluster/sdn/vnets?pending=1', 'GET /cluster/sdn/vnets/{vnet}/subnets?pending=1']
        : ['GET /cluster/replication', 'GET /nodes/{node}/replication'],
    cliEquivalent: input.view === 'ceph' ? 'pveceph status' : input.view === 'sdn' ? 'pvesh get /cluster/sdn/vnets --pending 1' : 'pvesr status',
    privileges: [{ path: input.view === 'sdn' ? '/sdn' : '/', privileges: input.view === 'sdn' ? ['SDN.Audit'] : ['Sys.Audit'] }],
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    if (input.view === 'ceph') {
      const online = (await onlineNodes(ctx.pve, ctx.signal)).online;
      const node = input.node ?? online[0];
      if (!node) throw new ToolError('unavailable', 'No node is online to ask about Ceph.');
      const report = await readCeph(ctx.pve, node, ctx.signal);
      if (!report.installed) return { data: { view: 'ceph' as const, ceph: { installed: false }, problems: [] }, summary: 'Ceph is not installed on this cluster.' };
      return {
        data: { view: 'ceph' as const, ceph: report as unknown as Record<string, unknown>, problems: report.problems },
        summary: `Ceph ${report.health}: ${report.osds!.up}/${report.osds!.total} OSDs up, ${report.osds!.in} in, ${report.monitors} monitors, ${report.usage!.used_percent}% used${report.problems.length ? `. ${report.problems.slice(0, 3).join(' ')}` : ''}`,
        warnings: report.problems,
        cliEquivalent: 'pveceph status',
        node,
      };
    }
    if (input.view === 'sdn') {
      const report = await readSdn(ctx.pve, ctx.signal);
      return {
        data: { view: 'sdn' as const, sdn: report as unknown as Record<string, unknown>, problems: report.pending.length ? [`${report.pending.length} SDN change(s) not applied: ${report.pending.join('; ')}`] : [] },
        summary: `SDN: ${report.zones.length} zone(s), ${report.vnets.length} vnet(s), ${report.subnets.length} subnet(s); ${report.pending.length ? `pending: ${report.pending.join('; ')} (sdn_apply applies them)` : 'nothing pending'}`,
        ...(report.pending.length ? { suggestions: ['sdn_apply applies the pending SDN changes on every node (network reload).'] } : {}),
      };
    }
    const { jobs, problems } = await readReplication(ctx.pve, (await onlineNodes(ctx.pve, ctx.signal)).online, ctx.signal);
    const page = paginate(jobs, input, { sortable: ['id', 'guest', 'source', 'target', 'state', 'last_sync', 'fail_count'], tieBreak: ['id'], columns: ['id', 'guest', 'source', 'target', 'schedule', 'last_sync', 'next_sync', 'duration_seconds', 'fail_count', 'error', 'state'], key: ['id'] });
    return {
      data: { view: 'replication' as const, jobs: page.rows as Record<string, unknown>[], total: page.total, next_cursor: page.next_cursor, problems },
      summary: `Replication: ${jobs.filter((j) => j.state === 'ok').length} of ${jobs.length} job(s) OK; ${pageLine(page, input.cursor, input.sort, 'jobs')}${problems.length ? `. ${problems[0]}` : ''}`,
      warnings: problems,
      cliEquivalent: 'pvesr status',
    };
  },
});
