import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { nodeName, timePoint, vmid } from '../lib/schemas.ts';
import { pageShape, pickFields } from '../lib/cluster/paging.ts';

const row = z.object({
  id: z.number(),
  time: z.string(),
  client: z.string(),
  door: z.string(),
  tool: z.string(),
  arguments: z.unknown(),
  mode: z.string(),
  outcome: z.string(),
  error_code: z.string().nullable(),
  message: z.string().nullable(),
  duration_ms: z.number().nullable(),
  upids: z.array(z.string()),
  node: z.string().nullable(),
  vmid: z.number().nullable(),
  /** Who said yes (an approver, host:<user>, the client's user) and how strong that yes was (ask or proof). */
  approved_by: z.string().nullable(),
  approval: z.string().nullable(),
});

export default defineTool({
  name: 'get_command_history',
  title: 'Command history (audit trail)',
  description: 'What was done through this server in the last 7 days: who, tool, arguments (secrets masked), outcome, tasks; filtered, sorted, paged.',
  input: z.object({
    since: timePoint.optional().describe('From when: 30m, 24h, 7d, or an ISO date'),
    until: timePoint.optional().describe('Until when: a duration back from now or an ISO date'),
    tool: z.string().max(64).optional(),
    client: z.string().max(64).optional().describe('Client token name (admins only; others always see their own)'),
    outcome: z.enum(['running', 'ok', 'error', 'refused', 'confirmation_required']).optional(),
    node: nodeName.optional(),
    vmid: vmid.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(25).describe('Rows per page, newest first (default 25)'),
    cursor: z.coerce.number().int().positive().optional().describe('The next_cursor of the previous page'),
    fields: pageShape({ defaultLimit: 25, maxLimit: 500, sortable: [], defaultSort: '' }).fields,
  }),
  output: z.object({ entries: z.array(row.partial()), next_cursor: z.number().nullable(), count: z.number() }),
  effect: 'read',
  async run(input, ctx) {
    const client = ctx.caller.role === 'admin' ? input.client : ctx.caller.name;
    const { rows, nextCursor } = await ctx.services.store.history.query({
      since: input.since,
      until: input.until,
      tool: input.tool,
      client,
      outcome: input.outcome,
      node: input.node,
      vmid: input.vmid,
      limit: input.limit,
      before: input.cursor,
    });
    const entries = rows.map((entry) => ({
      id: entry.id,
      time: new Date(entry.startedAt).toISOString(),
      client: entry.client,
      door: entry.door,
      tool: entry.tool,
      arguments: safeJson(entry.args),
      mode: entry.mode,
      outcome: entry.outcome,
      error_code: entry.errorCode,
      message: entry.message,
      duration_ms: entry.durationMs,
      upids: (safeJson(entry.upids) as string[] | null) ?? [],
      node: entry.node,
      vmid: entry.vmid,
      approved_by: entry.approvedBy ?? null,
      approval: entry.approval ?? null,
    }));
    const fields = pickFields(input.fields, Object.keys(row.shape), ['id']);
    const shown = fields ? entries.map((entry) => Object.fromEntries(fields.map((field) => [field, entry[field as keyof typeof entry]]))) : entries;
    return {
      data: { entries: shown, next_cursor: nextCursor ?? null, count: entries.length },
      summary: `${entries.length} history entr${entries.length === 1 ? 'y' : 'ies'}, newest first${nextCursor ? `; next page: cursor ${nextCursor}` : ''}`,
    };
  },
});

function safeJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
