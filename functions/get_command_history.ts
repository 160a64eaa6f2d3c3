import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { nodeName, timePoint, vmid } from '../lib/schemas.ts';
import { cursorOffset, pageShape, pickFields, sortKeys } from '../lib/cluster/paging.ts';
import { historySortColumns, type HistorySortColumn } from '../lib/store/history.ts';
import { ToolError } from '../lib/errors.ts';
import { redactHistoryRow } from '../lib/runtime/redact-args.ts';

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

const sortable = Object.keys(historySortColumns);
const paging = pageShape({ defaultLimit: 25, maxLimit: 500, sortable, defaultSort: '-time' });

/** An answer an agent reads: at most about this many characters of entries per page (Claude Code cuts at ~100,000). */
const pageChars = 30_000;
/** One entry's arguments beyond this are cut in the answer (the history row keeps them whole). */
const argumentChars = 2_000;

export default defineTool({
  name: 'get_command_history',
  title: 'Command history (audit trail)',
  description: 'What was done through this server in the last 7 days: who, tool, arguments (secrets masked), outcome, tasks; filtered, sorted, paged.',
  input: z.object({
    since: timePoint.optional().describe('30m, 24h, 7d or an ISO date'),
    until: timePoint.optional().describe('Same forms as since'),
    tool: z.string().max(64).optional(),
    client: z.string().max(64).optional().describe('Token name (admins; others see their own)'),
    outcome: z.enum(['running', 'ok', 'error', 'refused', 'confirmation_required']).optional(),
    node: nodeName.optional(),
    vmid: vmid.optional(),
    ...paging,
  }),
  output: z.object({
    entries: z.array(row.partial()),
    total: z.number().describe('Entries that match the filters, over all pages'),
    count: z.number().describe('Entries on this page'),
    next_cursor: z.union([z.number(), z.string()]).nullable().describe('Pass as cursor for the next page; null on the last'),
  }),
  effect: 'read',
  async run(input, ctx) {
    const client = ctx.caller.role === 'admin' ? input.client : ctx.caller.name;
    const sort = sortKeys(input.sort, sortable).map((key) => ({ column: key.field as HistorySortColumn, descending: key.descending }));
    const sorted = sort.length > 0 && !(sort.length === 1 && sort[0]!.column === 'time' && sort[0]!.descending);
    // Newest first (the default) pages by id, so rows written meanwhile do not shift the pages; another
    // sort pages by offset.
    let before: number | undefined;
    let offset = 0;
    if (input.cursor !== undefined) {
      if (sorted) offset = cursorOffset(input.cursor);
      else if (/^[1-9]\d{0,15}$/.test(input.cursor)) before = Number(input.cursor);
      else throw new ToolError('invalid_input', `cursor '${input.cursor.slice(0, 32)}' is not one this server gave: pass next_cursor from the previous page, or leave it out for the first page.`);
    }
    const filter = { since: input.since, until: input.until, tool: input.tool, client, outcome: input.outcome, node: input.node, vmid: input.vmid };
    // One after the other: the query writes out the history still queued, and the count must see it too.
    const { rows, more } = await ctx.services.store.history.query({ ...filter, limit: input.limit, ...(sorted ? { sort, offset } : { before }) });
    const total = await ctx.services.store.history.countMatching(filter);
    const fields = pickFields(input.fields, Object.keys(row.shape), ['id']);
    const entries: Record<string, unknown>[] = [];
    let size = 0;
    let cut = false;
    // masked again with today's rules: rows written before a redaction rule existed never come back in clear
    for (const entry of rows.map(redactHistoryRow)) {
      const full = {
        id: entry.id,
        time: new Date(entry.startedAt).toISOString(),
        client: entry.client,
        door: entry.door,
        tool: entry.tool,
        arguments: shortArguments(entry.args),
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
      };
      const shown = fields ? Object.fromEntries(fields.map((field) => [field, full[field as keyof typeof full]])) : full;
      const chars = JSON.stringify(shown).length;
      // The page ends early rather than grow past what an agent can read; the cursor goes on from here.
      if (entries.length > 0 && size + chars > pageChars) {
        cut = true;
        break;
      }
      entries.push(shown);
      size += chars;
    }
    const hasMore = more || cut;
    const last = entries[entries.length - 1];
    const nextCursor = !hasMore ? null : sorted ? String(offset + entries.length) : (last?.id as number | undefined) ?? null;
    const from = sorted ? offset : undefined;
    return {
      data: { entries, total, count: entries.length, next_cursor: nextCursor },
      summary:
        `${entries.length} of ${total} history entr${total === 1 ? 'y' : 'ies'}${from ? ` from ${from + 1}` : ''}, ${sorted ? `sorted by ${input.sort}` : 'newest first'}` +
        `${cut ? ' (page cut to fit an answer)' : ''}${nextCursor !== null ? `; next page: cursor ${JSON.stringify(nextCursor)}` : ''}`,
    };
  },
});

/** The recorded arguments, cut when they are long (a long command line, a big config change). */
function shortArguments(text: string | null): unknown {
  const value = safeJson(text);
  if (text === null || text.length <= argumentChars) return value;
  return `${text.slice(0, argumentChars)}... (${text.length} characters in all)`;
}

function safeJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
