import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { flag, humanBytes, percent, text } from '../lib/cluster/format.ts';
import { num } from '../lib/pve/parse.ts';
import { input, listContent, listStorages, needStorage, needs, storageInfo, storageNode, volumeInfo, volumePaging, type Input, actions } from '../lib/cluster/storage-ops.ts';

const readActions = ['list', 'status', 'content'] as const;

export default defineTool({
  name: 'storage_operations',
  title: 'Storage: list, status, content',
  description: 'Read storage: list (storages and use per node), status (one), content (its volumes). Downloads, deletions: storage_change.',
  input: input.pick({ node: true, storage: true, content: true, vmid: true }).extend({ action: z.enum(readActions).describe('list | status | content'), ...volumePaging }),
  output: z.object({
    action: z.enum(actions),
    total: z.number().optional().describe('content: volumes that matched'),
    returned: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
    storages: z.array(storageInfo).optional(),
    status: z
      .object({
        storage: z.string(),
        node: z.string(),
        type: z.string().optional(),
        content: z.array(z.string()),
        active: z.boolean().optional(),
        enabled: z.boolean().optional(),
        shared: z.boolean().optional(),
        used: z.number().optional(),
        total: z.number().optional(),
        available: z.number().optional(),
        percent: z.number().optional(),
      })
      .optional(),
    volumes: z.array(volumeInfo).optional(),
  }),
  effect: 'read',
  privileges: (args) => needs(args as Input),
  explain(args): Plan {
    const privileges = needs(args as Input);
    const storage = args.storage ?? '<storage>';
    const node = args.node ?? '{node}';
    switch (args.action) {
      case 'list':
        return { summary: 'List storages', apiCalls: [args.node ? `GET /nodes/${args.node}/storage` : 'GET /cluster/resources?type=storage'], cliEquivalent: 'pvesm status', privileges, risk: 'none', reversible: true };
      case 'status':
        return { summary: `Status of storage ${storage}`, apiCalls: [`GET /nodes/${node}/storage/${storage}/status`], cliEquivalent: `pvesm status --storage ${storage}`, privileges, risk: 'none', reversible: true };
      case 'content':
        return { summary: `List the content of storage ${storage}`, apiCalls: [`GET /nodes/${node}/storage/${storage}/content`], cliEquivalent: `pvesm list ${storage}${args.content ? ` --content ${args.content}` : ''}`, privileges, risk: 'none', reversible: true };
    }
  },
  async run(args, ctx) {
    switch (args.action) {
      case 'list':
        return listStorages(args as Input, ctx);
      case 'status': {
        const storage = needStorage(args as Input);
        const { node } = await storageNode(ctx, storage, args.node);
        const row = await ctx.pve.get<Record<string, unknown>>(`/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/status`, undefined, { signal: ctx.signal });
        const used = num(row?.used);
        const total = num(row?.total);
        const status = {
          storage,
          node,
          type: text(row?.type),
          content: (text(row?.content) ?? '').split(',').filter(Boolean),
          active: flag(row?.active),
          enabled: flag(row?.enabled),
          shared: flag(row?.shared),
          used,
          total,
          available: num(row?.avail),
          percent: percent(used, total),
        };
        return {
          data: { action: args.action, status },
          summary: `${storage} on ${node}: ${status.percent !== undefined ? `${status.percent}% used (${humanBytes(used)} of ${humanBytes(total)})` : 'no usage reported'}${status.active === false ? ', NOT active' : ''}`,
          warnings: [
            ...(status.percent !== undefined && status.percent >= 85 ? [`Storage ${storage} on ${node} is ${status.percent}% full.`] : []),
            ...(status.active === false ? [`Storage ${storage} is not active on ${node} (unmounted or unreachable?).`] : []),
          ],
          node,
        };
      }
      case 'content':
        return listContent(args as Input, ctx);
    }
  },
});

